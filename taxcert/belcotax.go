package taxcert

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// BelcotaxOptions are the settings of one Belcotax-on-web file.
type BelcotaxOptions struct {
	// Test makes a test file (v0010 BCTEST, as the official schema's
	// documentation names it) that Belcotax checks but does not file; false
	// files for real (BELCOTAX).
	Test bool
	// CorrectionTreatment is f2028_typetraitement for a certificate version
	// after the first: 1 by default (a correction of a certificate already
	// filed; the first version is 0). Uncertain: see docs/ACCOUNTING.md.
	CorrectionTreatment int
	// Created is the file's creation date (v0011).
	Created time.Time
}

// address splits "Rue des Tilleuls 12, 5000 Namur" into street, Belgian
// postal code and municipality ("" parts when it cannot).
var addressRE = regexp.MustCompile(`^(.*?)[,\s]+(\d{4})\s+(.+)$`)

func splitAddress(a string) (street, postal, city string) {
	a = strings.TrimSpace(a)
	if m := addressRE.FindStringSubmatch(a); m != nil {
		return strings.TrimSpace(m[1]), m[2], strings.TrimSpace(m[3])
	}
	return a, "", ""
}

// cents writes an amount in euro cents, as Belcotax expects amounts.
func xmlCents(d decimal.Decimal) string { return d.Shift(2).Round(0).String() }

// cut keeps at most n characters.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// xmlWriter writes elements in order.
type xmlWriter struct{ b bytes.Buffer }

func (w *xmlWriter) open(name string)  { w.b.WriteString("<" + name + ">") }
func (w *xmlWriter) close(name string) { w.b.WriteString("</" + name + ">") }
func (w *xmlWriter) el(name, value string) {
	w.b.WriteString("<" + name + ">")
	_ = xml.EscapeText(&w.b, []byte(value))
	w.b.WriteString("</" + name + ">")
}

// ErrNoBCE: a Belcotax file needs the organising body's company number
// (v0024_nationaalnr is required by the official schema).
var ErrNoBCE = fmt.Errorf("%w: the organising body's company number (BCE, %s) is not set; Belcotax requires it", ErrInvalid, EnvBCE)

// belgium is Belcotax's country code of Belgium.
const belgium = "150"

// Belcotax writes the Belcotax-on-web XML of the given certificates (all
// of one year; the latest version of each): one sending (Verzending) with
// one declaration (Aangifte) whose Opgave32586 holds a Fiche28186 per
// certificate, with the control totals. The layout follows the published
// technical documentation (brochure Belcotax 281.86) as implemented by
// public reference implementations; amounts are in euro cents, dates
// dd-mm-yyyy, the country 150 (Belgium). Fields whose rule is uncertain
// are settings (BelcotaxOptions, Settings) and listed in
// docs/ACCOUNTING.md. The elements follow the order and the required
// elements of the administration's XSD (Belcotax-2025.xsd, see
// docs/ACCOUNTING.md). It returns ErrInvalid without certificates or with
// certificates of several years, ErrNoBCE without the issuer's company
// number.
func (s *Service) Belcotax(certs []Certificate, opt BelcotaxOptions) ([]byte, error) {
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificate", ErrInvalid)
	}
	if opt.CorrectionTreatment == 0 {
		opt.CorrectionTreatment = 1
	}
	year := certs[0].Year
	st := certs[0].Content.Issuer
	if st.ContactName == "" && st.ContactEmail == "" {
		st.ContactName, st.ContactPhone, st.ContactEmail = s.settings.ContactName, s.settings.ContactPhone, s.settings.ContactEmail
	}
	street, postal, city := st.IssuerAddress, st.IssuerPostal, st.IssuerCity
	fileType := "BELCOTAX"
	if opt.Test {
		fileType = "BCTEST"
	}
	if st.IssuerBCE == "" { // issued before the company number was set
		st.IssuerBCE = s.settings.IssuerBCE
	}
	bce := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, st.IssuerBCE)
	if bce == "" {
		return nil, ErrNoBCE
	}
	lang := strconv.Itoa(st.LanguageCode)
	y := strconv.Itoa(year)
	w := &xmlWriter{}
	w.b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`)
	w.open("Verzendingen")
	w.open("Verzending")
	w.el("v0002_inkomstenjaar", y)
	w.el("v0010_bestandtype", fileType)
	w.el("v0011_aanmaakdatum", opt.Created.Format("02-01-2006"))
	w.el("v0014_naam", cut(st.IssuerName, 41))
	w.el("v0015_adres", cut(street, 200))
	w.el("v0016_postcode", postal)
	w.el("v0017_gemeente", cut(city, 27))
	w.el("v0018_telefoonnummer", st.ContactPhone)
	w.el("v0021_contactpersoon", cut(st.ContactName, 34))
	w.el("v0022_taalcode", lang)
	w.el("v0023_emailadres", st.ContactEmail)
	w.el("v0024_nationaalnr", bce)
	w.el("v0025_typeenvoi", "0")
	w.el("v0028_landwoonplaats", belgium)
	w.open("Aangiften")
	w.open("Aangifte")
	w.el("a1002_inkomstenjaar", y)
	w.el("a1005_registratienummer", bce)
	name := cut(st.IssuerName, 28+31)
	w.el("a1011_naamnl1", cut(name, 28))
	if utf8.RuneCountInString(name) > 28 {
		w.el("a1012_naamnl2", string([]rune(name)[28:]))
	}
	w.el("a1013_adresnl", cut(street, 200))
	w.el("a1014_postcodebelgisch", postal)
	w.el("a1015_gemeente", cut(city, 27))
	w.el("a1016_landwoonplaats", belgium)
	w.el("a1020_taalcode", lang)
	w.open("Opgaven")
	w.open("Opgave32586")
	control := decimal.Zero
	for i, c := range certs {
		if c.Year != year {
			return nil, fmt.Errorf("%w: certificates of %d and %d in one file", ErrInvalid, year, c.Year)
		}
		payerNISS, err := s.open(c.Content.Payer.NISS)
		if err != nil {
			return nil, err
		}
		childNISS, err := s.open(c.Content.Child.NISS)
		if err != nil {
			return nil, err
		}
		p, ch := c.Content.Payer, c.Content.Child
		pStreet, pPostal, pCity := splitAddress(p.Address)
		cStreet, cPostal, cCity := splitAddress(ch.Address)
		treatment := "0"
		if c.Version > 1 {
			treatment = strconv.Itoa(opt.CorrectionTreatment)
		}
		w.open("Fiche28186")
		w.el("f2002_inkomstenjaar", y)
		w.el("f2005_registratienummer", bce)
		w.el("f2008_typefiche", "28186")
		w.el("f2009_volgnummer", strconv.Itoa(i+1))
		w.el("f2010_referentie", fmt.Sprintf("%d-%d-%d", year, c.Seq, c.Version))
		w.el("f2011_nationaalnr", payerNISS)
		w.el("f2013_naam", cut(p.LastName, 41))
		w.el("f2015_adres", cut(pStreet, 200))
		w.el("f2016_postcodebelgisch", pPostal)
		w.el("f2017_gemeente", cut(pCity, 27))
		w.el("f2018_landwoonplaats", belgium)
		w.el("f2028_typetraitement", treatment)
		w.el("f2029_enkelopgave325", "0")
		w.el("f2114_voornamen", cut(p.FirstName, 15))
		// The Fiche28186 part of the official schema is a sequence in the
		// order of the field codes (f86_2031 … f86_2171), whatever the
		// paper form's order: the fields are collected, then written sorted.
		f := map[string]string{
			"f86_2031_certificationautorisation": strconv.Itoa(st.CertificationCode),
			"f86_2101_childcountry":              belgium,
			"f86_2102_childaddress":              cut(cStreet, 200),
			"f86_2106_childname":                 cut(ch.LastName, 41),
			"f86_2107_childfirstname":            cut(ch.FirstName, 32),
			"f86_2139_childpostnr":               cPostal,
			"f86_2140_childmunicipality":         cut(cCity, 27),
			"f86_2163_childbirthdate":            ch.BirthDate.Format("02-01-2006"),
			"f86_2064_totalamount":               xmlCents(c.Content.Total),
		}
		if st.CertificationCode != 0 {
			f["f86_2100_certifierpostnr"] = postal
			f["f86_2109_certifiercbenumber"] = bce
			f["f86_2154_certifiermunicipality"] = cut(city, 50)
			f["f86_2155_certifiername"] = cut(st.IssuerName, 54)
			f["f86_2156_certifieradres"] = cut(street, 200)
		}
		if childNISS != "" {
			f["f86_2153_nnchild"] = childNISS
		}
		for k, pr := range c.Content.Periods {
			n := periodFields[k]
			f[n[0]] = strconv.Itoa(pr.Days)
			f[n[1]] = xmlCents(pr.DailyRate)
			f[n[2]] = xmlCents(pr.Amount)
			f[n[3]] = pr.From.Format("02-01-2006")
			f[n[4]] = pr.To.Format("02-01-2006")
		}
		ctl := c.Content.Total.Mul(decimal.NewFromInt(2))
		control = control.Add(ctl)
		f["f86_2059_totaalcontrole"] = xmlCents(ctl)
		names := make([]string, 0, len(f))
		for name := range f {
			names = append(names, name)
		}
		sort.Strings(names) // "f86_" and four digits: the codes' order
		for _, name := range names {
			w.el(name, f[name])
		}
		w.close("Fiche28186")
	}
	n := len(certs)
	w.close("Opgave32586")
	w.close("Opgaven")
	w.el("r8002_inkomstenjaar", y)
	w.el("r8005_registratienummer", bce)
	w.el("r8010_aantalrecords", strconv.Itoa(n+2))
	w.el("r8011_controletotaal", strconv.Itoa(n*(n+1)/2))
	w.el("r8012_controletotaal", xmlCents(control))
	w.el("r8013_totaalvoorheffingen", "0")
	w.close("Aangifte")
	w.close("Aangiften")
	w.el("r9002_inkomstenjaar", y)
	w.el("r9010_aantallogbestanden", "3")
	w.el("r9011_totaalaantalrecords", strconv.Itoa(n+4))
	w.el("r9012_controletotaal", strconv.Itoa(n*(n+1)/2))
	w.el("r9013_controletotaal", xmlCents(control))
	w.el("r9014_controletotaal", "0")
	w.close("Verzending")
	w.close("Verzendingen")
	return w.b.Bytes(), nil
}

// periodFields are the element names of periods 1–4: days, daily rate,
// amount, from, to.
var periodFields = [4][5]string{
	{"f86_2110_numberofday1", "f86_2111_dailytariff1", "f86_2060_amount1", "f86_2055_begindate1", "f86_2056_enddate1"},
	{"f86_2113_numberofday2", "f86_2115_dailytariff2", "f86_2061_amount2", "f86_2093_begindate2", "f86_2144_enddate2"},
	{"f86_2116_numberofday3", "f86_2117_dailytariff3", "f86_2062_amount3", "f86_2157_begindate3", "f86_2158_enddate3"},
	{"f86_2119_numberofday4", "f86_2120_dailytariff4", "f86_2063_amount4", "f86_2161_begindate4", "f86_2162_enddate4"},
}
