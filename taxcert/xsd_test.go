package taxcert

import (
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// A small XML Schema validator for the subset the Belcotax schema in
// testdata uses: nested elements in xs:sequence with minOccurs/maxOccurs,
// named and inline simple types restricting xs:string by pattern,
// enumeration, minLength and maxLength. No attributes, no namespaces.

type xsNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []xsNode   `xml:",any"`
}

func (n xsNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

type simpleType struct {
	patterns []*regexp.Regexp
	enums    []string
	min, max int
}

type particle struct {
	name     string
	min, max int // max -1: unbounded
	children []particle
	simple   *simpleType
}

type schema struct {
	root particle
}

func loadSchema(path string) (*schema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc xsNode
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	named := map[string]*simpleType{}
	var root *xsNode
	for i, c := range doc.Children {
		switch c.XMLName.Local {
		case "simpleType":
			st, err := parseSimple(c)
			if err != nil {
				return nil, err
			}
			named[c.attr("name")] = st
		case "element":
			root = &doc.Children[i]
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	p, err := parseElement(*root, named)
	if err != nil {
		return nil, err
	}
	return &schema{root: p}, nil
}

func parseSimple(n xsNode) (*simpleType, error) {
	st := &simpleType{max: -1}
	for _, r := range n.Children {
		if r.XMLName.Local != "restriction" {
			continue
		}
		for _, f := range r.Children {
			v := f.attr("value")
			switch f.XMLName.Local {
			case "pattern":
				re, err := regexp.Compile(`^(?:` + v + `)$`)
				if err != nil {
					return nil, err
				}
				st.patterns = append(st.patterns, re)
			case "enumeration":
				st.enums = append(st.enums, v)
			case "minLength":
				st.min, _ = strconv.Atoi(v)
			case "maxLength":
				st.max, _ = strconv.Atoi(v)
			}
		}
	}
	return st, nil
}

func parseElement(n xsNode, named map[string]*simpleType) (particle, error) {
	p := particle{name: n.attr("name"), min: 1, max: 1}
	if v := n.attr("minOccurs"); v != "" {
		p.min, _ = strconv.Atoi(v)
	}
	if v := n.attr("maxOccurs"); v == "unbounded" {
		p.max = -1
	} else if v != "" {
		p.max, _ = strconv.Atoi(v)
	}
	if t := n.attr("type"); t != "" {
		st, ok := named[t]
		if !ok {
			return p, fmt.Errorf("element %s: unknown type %s", p.name, t)
		}
		p.simple = st
		return p, nil
	}
	for _, c := range n.Children {
		switch c.XMLName.Local {
		case "simpleType":
			st, err := parseSimple(c)
			if err != nil {
				return p, err
			}
			p.simple = st
		case "complexType":
			for _, sq := range c.Children {
				for _, e := range sq.Children {
					cp, err := parseElement(e, named)
					if err != nil {
						return p, err
					}
					p.children = append(p.children, cp)
				}
			}
		}
	}
	return p, nil
}

// instance is a parsed XML document element.
type instance struct {
	XMLName  xml.Name
	Text     string     `xml:",chardata"`
	Children []instance `xml:",any"`
}

// validate checks doc against the schema and returns every error found.
func (s *schema) validate(doc []byte) []string {
	var root instance
	if err := xml.Unmarshal(doc, &root); err != nil {
		return []string{err.Error()}
	}
	var errs []string
	check(s.root, root, "/"+root.XMLName.Local, &errs)
	if root.XMLName.Local != s.root.name {
		errs = append(errs, fmt.Sprintf("root is %s, want %s", root.XMLName.Local, s.root.name))
	}
	return errs
}

func check(p particle, in instance, path string, errs *[]string) {
	if p.simple != nil {
		if len(in.Children) > 0 {
			*errs = append(*errs, path+": element content in a simple element")
			return
		}
		v := in.Text
		st := p.simple
		n := utf8.RuneCountInString(v)
		if n < st.min || (st.max >= 0 && n > st.max) {
			*errs = append(*errs, fmt.Sprintf("%s: length %d outside [%d, %d]", path, n, st.min, st.max))
		}
		for _, re := range st.patterns {
			if !re.MatchString(v) {
				*errs = append(*errs, fmt.Sprintf("%s: %q does not match %s", path, v, re))
			}
		}
		if len(st.enums) > 0 {
			ok := false
			for _, e := range st.enums {
				ok = ok || e == v
			}
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s: %q not in %v", path, v, st.enums))
			}
		}
		return
	}
	if strings.TrimSpace(in.Text) != "" {
		*errs = append(*errs, path+": text in a complex element")
	}
	i := 0
	for _, c := range p.children {
		n := 0
		for i < len(in.Children) && in.Children[i].XMLName.Local == c.name && (c.max < 0 || n < c.max) {
			check(c, in.Children[i], path+"/"+c.name, errs)
			i++
			n++
		}
		if n < c.min {
			*errs = append(*errs, fmt.Sprintf("%s: missing %s", path, c.name))
		}
	}
	for ; i < len(in.Children); i++ {
		*errs = append(*errs, fmt.Sprintf("%s: unexpected %s", path, in.Children[i].XMLName.Local))
	}
}

// EnvOfficialXSD names the administration's Belcotax XSD (for instance
// Belcotax-2025.xsd from Belcotax's validation module); when set, the
// tests also validate the generated file against it with xmllint
// (libxml2-utils, scripts/install-deps.sh). It is not in the repository:
// see docs/ACCOUNTING.md.
const EnvOfficialXSD = "TARTINE_BELCOTAX_XSD"

// validateOfficial validates x against the official XSD named by
// EnvOfficialXSD, if set.
func validateOfficial(t *testing.T, x []byte) {
	t.Helper()
	xsd := os.Getenv(EnvOfficialXSD)
	if xsd == "" {
		t.Logf("%s not set: the Belcotax XML is validated against the derived schema only", EnvOfficialXSD)
		return
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatalf("%s is set but xmllint is missing (Debian package libxml2-utils): %v", EnvOfficialXSD, err)
	}
	file := filepath.Join(t.TempDir(), "belcotax.xml")
	if err := os.WriteFile(file, x, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(xmllint, "--noout", "--schema", xsd, file).CombinedOutput(); err != nil {
		t.Errorf("Belcotax XML does not validate against %s: %v\n%s", xsd, err, out)
	}
}
