package sepa

import (
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// The pain.001.001.03 schema (ISO 20022, CustomerCreditTransferInitiationV03)
// restated as Go data for the complex types a credit transfer batch uses:
// each type's children in the schema's order with their occurrences, and
// each simple type's facets. validatePain001 checks a document against it
// strictly: namespace, every element known to its parent's type, in order,
// within its occurrences, every required element present, every text within
// its type (length, pattern, enumeration, decimal digits), the Ccy
// attribute. It is what xmllint --schema would check for these types; the
// schema file itself is not shipped with the repository.

type xsdElem struct {
	name     string
	typ      string
	min, max int // max -1: unbounded
}

type xsdSimple struct {
	minLen, maxLen int
	pattern        *regexp.Regexp
	enum           []string
	decimal        bool // xs:decimal with fraction/total digits
	frac, total    int
	date, dateTime bool
	boolean        bool
}

var xsdComplex = map[string][]xsdElem{
	"Document":                            {{"CstmrCdtTrfInitn", "CustomerCreditTransferInitiationV03", 1, 1}},
	"CustomerCreditTransferInitiationV03": {{"GrpHdr", "GroupHeader32", 1, 1}, {"PmtInf", "PaymentInstructionInformation3", 1, -1}},
	"GroupHeader32": {{"MsgId", "Max35Text", 1, 1}, {"CreDtTm", "ISODateTime", 1, 1}, {"Authstn", "Authorisation1Choice", 0, 2},
		{"NbOfTxs", "Max15NumericText", 1, 1}, {"CtrlSum", "DecimalNumber", 0, 1}, {"InitgPty", "PartyIdentification32", 1, 1},
		{"FwdgAgt", "BranchAndFinancialInstitutionIdentification4", 0, 1}},
	"PaymentInstructionInformation3": {{"PmtInfId", "Max35Text", 1, 1}, {"PmtMtd", "PaymentMethod3Code", 1, 1},
		{"BtchBookg", "BatchBookingIndicator", 0, 1}, {"NbOfTxs", "Max15NumericText", 0, 1}, {"CtrlSum", "DecimalNumber", 0, 1},
		{"PmtTpInf", "PaymentTypeInformation19", 0, 1}, {"ReqdExctnDt", "ISODate", 1, 1}, {"PoolgAdjstmntDt", "ISODate", 0, 1},
		{"Dbtr", "PartyIdentification32", 1, 1}, {"DbtrAcct", "CashAccount16", 1, 1}, {"DbtrAgt", "BranchAndFinancialInstitutionIdentification4", 1, 1},
		{"DbtrAgtAcct", "CashAccount16", 0, 1}, {"UltmtDbtr", "PartyIdentification32", 0, 1}, {"ChrgBr", "ChargeBearerType1Code", 0, 1},
		{"ChrgsAcct", "CashAccount16", 0, 1}, {"ChrgsAcctAgt", "BranchAndFinancialInstitutionIdentification4", 0, 1},
		{"CdtTrfTxInf", "CreditTransferTransactionInformation10", 1, -1}},
	"PaymentTypeInformation19": {{"InstrPrty", "Priority2Code", 0, 1}, {"SvcLvl", "ServiceLevel8Choice", 0, 1},
		{"LclInstrm", "LocalInstrument2Choice", 0, 1}, {"CtgyPurp", "CategoryPurpose1Choice", 0, 1}},
	"ServiceLevel8Choice": {{"Cd", "ExternalServiceLevel1Code", 0, 1}, {"Prtry", "Max35Text", 0, 1}},
	"PartyIdentification32": {{"Nm", "Max140Text", 0, 1}, {"PstlAdr", "PostalAddress6", 0, 1}, {"Id", "Party6Choice", 0, 1},
		{"CtryOfRes", "CountryCode", 0, 1}, {"CtctDtls", "ContactDetails2", 0, 1}},
	"CashAccount16": {{"Id", "AccountIdentification4Choice", 1, 1}, {"Tp", "CashAccountType2", 0, 1},
		{"Ccy", "ActiveOrHistoricCurrencyCode", 0, 1}, {"Nm", "Max70Text", 0, 1}},
	"AccountIdentification4Choice": {{"IBAN", "IBAN2007Identifier", 0, 1}, {"Othr", "GenericAccountIdentification1", 0, 1}},
	"BranchAndFinancialInstitutionIdentification4": {{"FinInstnId", "FinancialInstitutionIdentification7", 1, 1},
		{"BrnchId", "BranchData2", 0, 1}},
	"FinancialInstitutionIdentification7": {{"BIC", "BICIdentifier", 0, 1}, {"ClrSysMmbId", "ClearingSystemMemberIdentification2", 0, 1},
		{"Nm", "Max140Text", 0, 1}, {"PstlAdr", "PostalAddress6", 0, 1}, {"Othr", "GenericFinancialIdentification1", 0, 1}},
	"GenericFinancialIdentification1": {{"Id", "Max35Text", 1, 1}, {"SchmeNm", "FinancialIdentificationSchemeName1Choice", 0, 1},
		{"Issr", "Max35Text", 0, 1}},
	"CreditTransferTransactionInformation10": {{"PmtId", "PaymentIdentification1", 1, 1}, {"PmtTpInf", "PaymentTypeInformation19", 0, 1},
		{"Amt", "AmountType3Choice", 1, 1}, {"XchgRateInf", "ExchangeRateInformation1", 0, 1}, {"ChrgBr", "ChargeBearerType1Code", 0, 1},
		{"ChqInstr", "Cheque6", 0, 1}, {"UltmtDbtr", "PartyIdentification32", 0, 1},
		{"IntrmyAgt1", "BranchAndFinancialInstitutionIdentification4", 0, 1}, {"IntrmyAgt1Acct", "CashAccount16", 0, 1},
		{"IntrmyAgt2", "BranchAndFinancialInstitutionIdentification4", 0, 1}, {"IntrmyAgt2Acct", "CashAccount16", 0, 1},
		{"IntrmyAgt3", "BranchAndFinancialInstitutionIdentification4", 0, 1}, {"IntrmyAgt3Acct", "CashAccount16", 0, 1},
		{"CdtrAgt", "BranchAndFinancialInstitutionIdentification4", 0, 1}, {"CdtrAgtAcct", "CashAccount16", 0, 1},
		{"Cdtr", "PartyIdentification32", 0, 1}, {"CdtrAcct", "CashAccount16", 0, 1}, {"UltmtCdtr", "PartyIdentification32", 0, 1},
		{"InstrForCdtrAgt", "InstructionForCreditorAgent1", 0, -1}, {"InstrForDbtrAgt", "Max140Text", 0, 1},
		{"Purp", "Purpose2Choice", 0, 1}, {"RgltryRptg", "RegulatoryReporting3", 0, 10}, {"Tax", "TaxInformation3", 0, 1},
		{"RltdRmtInf", "RemittanceLocation2", 0, 10}, {"RmtInf", "RemittanceInformation5", 0, 1}},
	"PaymentIdentification1": {{"InstrId", "Max35Text", 0, 1}, {"EndToEndId", "Max35Text", 1, 1}},
	"AmountType3Choice":      {{"InstdAmt", "ActiveOrHistoricCurrencyAndAmount", 0, 1}, {"EqvtAmt", "EquivalentAmount2", 0, 1}},
	"RemittanceInformation5": {{"Ustrd", "Max140Text", 0, -1}, {"Strd", "StructuredRemittanceInformation7", 0, -1}},
}

// choices are the complex types whose children are an xs:choice: exactly
// one child.
var xsdChoices = map[string]bool{"ServiceLevel8Choice": true, "AccountIdentification4Choice": true, "AmountType3Choice": true}

func maxText(n int) xsdSimple { return xsdSimple{minLen: 1, maxLen: n} }

var xsdSimples = map[string]xsdSimple{
	"Max35Text": maxText(35), "Max70Text": maxText(70), "Max140Text": maxText(140), "ExternalServiceLevel1Code": maxText(4),
	"Max15NumericText":                  {pattern: regexp.MustCompile(`^[0-9]{1,15}$`)},
	"DecimalNumber":                     {decimal: true, frac: 17, total: 18},
	"ActiveOrHistoricCurrencyAndAmount": {decimal: true, frac: 5, total: 18},
	"ISODate":                           {date: true},
	"ISODateTime":                       {dateTime: true},
	"BatchBookingIndicator":             {boolean: true},
	"PaymentMethod3Code":                {enum: []string{"CHK", "TRF", "TRA"}},
	"ChargeBearerType1Code":             {enum: []string{"DEBT", "CRED", "SHAR", "SLEV"}},
	"ActiveOrHistoricCurrencyCode":      {pattern: regexp.MustCompile(`^[A-Z]{3}$`)},
	"IBAN2007Identifier":                {pattern: regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}$`)},
	"BICIdentifier":                     {pattern: regexp.MustCompile(`^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$`)},
}

type xmlNode struct {
	name     xml.Name
	attrs    []xml.Attr
	text     string
	children []*xmlNode
}

func parseTree(data []byte) (*xmlNode, error) {
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := dec.Token()
		if err != nil {
			if root != nil && len(stack) == 0 && err.Error() == "EOF" {
				return root, nil
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: t.Name, attrs: t.Attr}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root != nil {
				return nil, errors.New("two root elements")
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
}

// validatePain001 checks data against the pain.001.001.03 types above.
func validatePain001(data []byte) error {
	root, err := parseTree(data)
	if err != nil {
		return fmt.Errorf("not well-formed: %w", err)
	}
	if root.name.Space != Pain001Namespace || root.name.Local != "Document" {
		return fmt.Errorf("root is {%s}%s, want {%s}Document", root.name.Space, root.name.Local, Pain001Namespace)
	}
	return validateNode(root, "Document", "/Document")
}

func validateNode(n *xmlNode, typ, path string) error {
	if n.name.Space != Pain001Namespace {
		return fmt.Errorf("%s: namespace %q", path, n.name.Space)
	}
	if seq, ok := xsdComplex[typ]; ok {
		if strings.TrimSpace(n.text) != "" {
			return fmt.Errorf("%s: text in a complex element", path)
		}
		if xsdChoices[typ] && len(n.children) != 1 {
			return fmt.Errorf("%s: a choice needs exactly one child, has %d", path, len(n.children))
		}
		i := 0
		for _, e := range seq {
			count := 0
			for i < len(n.children) && n.children[i].name.Local == e.name {
				c := n.children[i]
				if err := validateNode(c, e.typ, path+"/"+e.name); err != nil {
					return err
				}
				count++
				i++
			}
			if count < e.min && !xsdChoices[typ] {
				return fmt.Errorf("%s: missing %s", path, e.name)
			}
			if e.max >= 0 && count > e.max {
				return fmt.Errorf("%s: %d × %s, at most %d", path, count, e.name, e.max)
			}
		}
		if i < len(n.children) {
			return fmt.Errorf("%s: unexpected or misplaced element %s", path, n.children[i].name.Local)
		}
		return nil
	}
	st, ok := xsdSimples[typ]
	if !ok {
		return fmt.Errorf("%s: type %s is outside what Tartine writes", path, typ)
	}
	if len(n.children) > 0 {
		return fmt.Errorf("%s: child elements in a simple element", path)
	}
	if typ == "ActiveOrHistoricCurrencyAndAmount" {
		if len(n.attrs) != 1 || n.attrs[0].Name.Local != "Ccy" || !regexp.MustCompile(`^[A-Z]{3}$`).MatchString(n.attrs[0].Value) {
			return fmt.Errorf("%s: needs exactly the Ccy attribute", path)
		}
	} else if len(n.attrs) > 0 {
		return fmt.Errorf("%s: unexpected attribute %s", path, n.attrs[0].Name.Local)
	}
	v := n.text
	switch {
	case st.maxLen > 0:
		if l := utf8.RuneCountInString(v); l < st.minLen || l > st.maxLen {
			return fmt.Errorf("%s: %q has %d characters, want %d to %d", path, v, l, st.minLen, st.maxLen)
		}
	case st.pattern != nil:
		if !st.pattern.MatchString(v) {
			return fmt.Errorf("%s: %q does not match %s", path, v, st.pattern)
		}
	case st.enum != nil:
		for _, e := range st.enum {
			if v == e {
				return nil
			}
		}
		return fmt.Errorf("%s: %q not in %v", path, v, st.enum)
	case st.decimal:
		d, err := decimal.NewFromString(v)
		if err != nil || !regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`).MatchString(v) {
			return fmt.Errorf("%s: %q is not a non-negative decimal", path, v)
		}
		digits := strings.ReplaceAll(strings.TrimLeft(v, "0"), ".", "")
		if -d.Exponent() > int32(st.frac) || len(digits) > st.total {
			return fmt.Errorf("%s: %q has too many digits", path, v)
		}
	case st.date:
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return fmt.Errorf("%s: %q is not a date", path, v)
		}
	case st.dateTime:
		if _, err := time.Parse("2006-01-02T15:04:05", v); err != nil {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", path, v)
			}
		}
	case st.boolean:
		if v != "true" && v != "false" && v != "1" && v != "0" {
			return fmt.Errorf("%s: %q is not a boolean", path, v)
		}
	}
	return nil
}

func sampleBatch() CreditTransfer {
	brussels, _ := time.LoadLocation("Europe/Brussels")
	return CreditTransfer{
		MessageID: "TARTINE-REFUND-000001", CreatedAt: time.Date(2026, 12, 3, 16, 5, 0, 0, brussels),
		DebtorName: "PO des Tilleuls — École communale", DebtorIBAN: "BE68 5390 0754 7034", DebtorBIC: "BBRUBEBB",
		ExecutionDate: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC),
		Payments: []CreditTransferPayment{
			{EndToEndID: "TARTINE-R-1", Name: "Sophie Dubois (mère d'Emma)", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("12.40"),
				Remittance: "Remboursement du solde de Léa Kiwi — élève #123 & départ"},
			{EndToEndID: "TARTINE-R-2", Name: "Marc Janssens", IBAN: "NL91ABNA0417164300", BIC: "ABNANL2A", Amount: decimal.RequireFromString("30")},
		},
	}
}

// TestPain001Valid: a batch is a valid pain.001.001.03 document with its
// counts and control sums, texts in the SEPA character set, the debtor
// and each payment where the bank expects them.
func TestPain001Valid(t *testing.T) {
	out, err := sampleBatch().XML()
	if err != nil {
		t.Fatal(err)
	}
	if err := validatePain001(out); err != nil {
		t.Fatalf("not a valid pain.001.001.03: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		`<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">`,
		"<NbOfTxs>2</NbOfTxs>", "<CtrlSum>42.40</CtrlSum>", "<CreDtTm>2026-12-03T16:05:00</CreDtTm>",
		"<ReqdExctnDt>2026-12-04</ReqdExctnDt>", "<Cd>SEPA</Cd>", "<ChrgBr>SLEV</ChrgBr>",
		"<IBAN>BE68539007547034</IBAN>", "<BIC>BBRUBEBB</BIC>", "<BIC>ABNANL2A</BIC>",
		`<InstdAmt Ccy="EUR">12.40</InstdAmt>`, `<InstdAmt Ccy="EUR">30.00</InstdAmt>`,
		"<Nm>Sophie Dubois (mere d'Emma)</Nm>", "<Ustrd>Remboursement du solde de Lea Kiwi eleve 123 + depart</Ustrd>",
		"<Nm>PO des Tilleuls Ecole communale</Nm>",
	} {
		if !strings.Contains(s, want) && !strings.Contains(s, strings.ReplaceAll(want, "'", "&#39;")) {
			t.Errorf("file lacks %s", want)
		}
	}
}

// TestPain001Validator: the strict check refuses what the schema refuses,
// so that TestPain001Valid means something.
func TestPain001Validator(t *testing.T) {
	good, err := sampleBatch().XML()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"wrong namespace", "pain.001.001.03", "pain.001.001.02"},
		{"misplaced element", "<PmtMtd>TRF</PmtMtd>\n      <BtchBookg>true</BtchBookg>", "<BtchBookg>true</BtchBookg>\n      <PmtMtd>TRF</PmtMtd>"},
		{"missing required", "<ReqdExctnDt>2026-12-04</ReqdExctnDt>", ""},
		{"unknown element", "<ChrgBr>SLEV</ChrgBr>", "<ChrgBr>SLEV</ChrgBr><Foo>x</Foo>"},
		{"bad enumeration", "<ChrgBr>SLEV</ChrgBr>", "<ChrgBr>FREE</ChrgBr>"},
		{"bad IBAN pattern", "<IBAN>BE68539007547034</IBAN>", "<IBAN>be68 5390</IBAN>"},
		{"too long", "<EndToEndId>TARTINE-R-1</EndToEndId>", "<EndToEndId>" + strings.Repeat("X", 36) + "</EndToEndId>"},
		{"no currency", `<InstdAmt Ccy="EUR">12.40</InstdAmt>`, `<InstdAmt>12.40</InstdAmt>`},
		{"negative amount", `<InstdAmt Ccy="EUR">12.40</InstdAmt>`, `<InstdAmt Ccy="EUR">-12.40</InstdAmt>`},
		{"bad date", "<ReqdExctnDt>2026-12-04</ReqdExctnDt>", "<ReqdExctnDt>04/12/2026</ReqdExctnDt>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tc.from, tc.to, 1)
			if bad == string(good) {
				t.Fatalf("the mutation %q did not apply", tc.from)
			}
			if err := validatePain001([]byte(bad)); err == nil {
				t.Errorf("the validator accepted a document with a %s", tc.name)
			}
		})
	}
}

// TestPain001Refuses: what a bank would reject is refused before writing.
func TestPain001Refuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*CreditTransfer)
	}{
		{"empty batch", func(c *CreditTransfer) { c.Payments = nil }},
		{"bad beneficiary IBAN", func(c *CreditTransfer) { c.Payments[0].IBAN = "BE71096123456760" }},
		{"bad debtor IBAN", func(c *CreditTransfer) { c.DebtorIBAN = "BE00" }},
		{"three decimals", func(c *CreditTransfer) { c.Payments[0].Amount = decimal.RequireFromString("1.005") }},
		{"zero amount", func(c *CreditTransfer) { c.Payments[0].Amount = decimal.Zero }},
		{"repeated end-to-end id", func(c *CreditTransfer) { c.Payments[1].EndToEndID = c.Payments[0].EndToEndID }},
		{"message id too long", func(c *CreditTransfer) { c.MessageID = strings.Repeat("M", 36) }},
		{"no beneficiary name", func(c *CreditTransfer) { c.Payments[0].Name = "¤¤" }},
		{"bad BIC", func(c *CreditTransfer) { c.Payments[1].BIC = "ABN" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := sampleBatch()
			tc.edit(&ct)
			if _, err := ct.XML(); !errors.Is(err, ErrCreditTransfer) {
				t.Errorf("err = %v, want ErrCreditTransfer", err)
			}
		})
	}
}

func TestSEPAText(t *testing.T) {
	for in, want := range map[string]string{
		"Zoé Lambert":            "Zoe Lambert",
		"Œuvre & fils — n° 3":    "OEuvre + fils n 3",
		"  many   spaces ":       "many spaces",
		strings.Repeat("é", 150): strings.Repeat("e", 140),
		"élève #123 <script>":    "eleve 123 script",
	} {
		if got := SEPAText(in, 140); got != want {
			t.Errorf("SEPAText(%q) = %q, want %q", in, got, want)
		}
	}
}
