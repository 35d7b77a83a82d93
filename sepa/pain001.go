package sepa

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// SEPA credit transfer initiation (ISO 20022 pain.001.001.03), as Belgian
// banks take it for a batch of outgoing transfers (Febelfin's
// implementation guidelines of the EPC SEPA Credit Transfer rulebook): one
// payment information block (PmtInf) per batch, service level SEPA, charges
// shared (SLEV), amounts in EUR with two decimals, unstructured
// remittance information of at most 140 characters, texts restricted to the
// SEPA character set (Latin letters, digits and / - ? : ( ) . , ' + and
// space: accents are removed, anything else becomes a space).

// Pain001Namespace is the XML namespace of the message.
const Pain001Namespace = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"

// ErrCreditTransfer: a credit transfer batch that cannot be written (what
// is wrong is in the message).
var ErrCreditTransfer = errors.New("sepa: invalid credit transfer")

// CreditTransfer is a batch of outgoing SEPA credit transfers from one
// account.
type CreditTransfer struct {
	MessageID     string    // unique per file, at most 35 characters (the bank refuses a repeated one)
	CreatedAt     time.Time // written as local time with its offset
	DebtorName    string    // the school or organising body, at most 70 characters
	DebtorIBAN    string
	DebtorBIC     string    // optional (IBAN-only is the rule in SEPA)
	ExecutionDate time.Time // requested execution day
	Payments      []CreditTransferPayment
}

// CreditTransferPayment is one transfer of a batch.
type CreditTransferPayment struct {
	EndToEndID string // unique within the batch, at most 35 characters: given back on the bank statement
	Name       string // beneficiary, at most 70 characters
	IBAN       string
	BIC        string // optional
	Amount     decimal.Decimal
	Remittance string // unstructured, at most 140 characters after conversion
}

var sepaID = regexp.MustCompile(`^[A-Za-z0-9/\-?:().,'+ ]{1,35}$`)

// SEPAText converts s to the SEPA character set: accents removed, other
// characters replaced by a space, spaces collapsed, cut to max characters.
func SEPAText(s string, max int) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	out = strings.NewReplacer("œ", "oe", "Œ", "OE", "æ", "ae", "Æ", "AE", "ß", "ss", "&", "+").Replace(out)
	var b strings.Builder
	for _, r := range out {
		switch {
		case r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-?:().,'+ ", r)):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	res := strings.Join(strings.Fields(b.String()), " ")
	if utf8.RuneCountInString(res) > max {
		res = strings.TrimSpace(res[:max]) // ASCII only: bytes are runes
	}
	return res
}

// ControlSum is the sum of the batch's amounts.
func (ct CreditTransfer) ControlSum() decimal.Decimal {
	sum := decimal.Zero
	for _, p := range ct.Payments {
		sum = sum.Add(p.Amount)
	}
	return sum
}

// pain.001.001.03 documents, in the schema's element order.
type painDocument struct {
	XMLName xml.Name `xml:"Document"`
	Xmlns   string   `xml:"xmlns,attr"`
	Init    painInit `xml:"CstmrCdtTrfInitn"`
}

type painInit struct {
	GrpHdr painGroupHeader `xml:"GrpHdr"`
	PmtInf painPmtInf      `xml:"PmtInf"`
}

type painGroupHeader struct {
	MsgID    string    `xml:"MsgId"`
	CreDtTm  string    `xml:"CreDtTm"`
	NbOfTxs  int       `xml:"NbOfTxs"`
	CtrlSum  string    `xml:"CtrlSum"`
	InitgPty painParty `xml:"InitgPty"`
}

type painParty struct {
	Nm string `xml:"Nm"`
}

type painPmtInf struct {
	PmtInfID    string       `xml:"PmtInfId"`
	PmtMtd      string       `xml:"PmtMtd"`
	BtchBookg   bool         `xml:"BtchBookg"`
	NbOfTxs     int          `xml:"NbOfTxs"`
	CtrlSum     string       `xml:"CtrlSum"`
	PmtTpInf    painPmtTpInf `xml:"PmtTpInf"`
	ReqdExctnDt string       `xml:"ReqdExctnDt"`
	Dbtr        painParty    `xml:"Dbtr"`
	DbtrAcct    painAccount  `xml:"DbtrAcct"`
	DbtrAgt     painAgent    `xml:"DbtrAgt"`
	ChrgBr      string       `xml:"ChrgBr"`
	CdtTrfTxInf []painTx     `xml:"CdtTrfTxInf"`
}

type painPmtTpInf struct {
	SvcLvl struct {
		Cd string `xml:"Cd"`
	} `xml:"SvcLvl"`
}

type painAccount struct {
	ID struct {
		IBAN string `xml:"IBAN"`
	} `xml:"Id"`
	Ccy string `xml:"Ccy,omitempty"`
}

// painAgent names the bank by BIC, or "NOTPROVIDED" (IBAN only).
type painAgent struct {
	FinInstnID struct {
		BIC  string    `xml:"BIC,omitempty"`
		Othr *painOthr `xml:"Othr,omitempty"`
	} `xml:"FinInstnId"`
}

type painOthr struct {
	ID string `xml:"Id"`
}

type painTx struct {
	PmtID struct {
		EndToEndID string `xml:"EndToEndId"`
	} `xml:"PmtId"`
	Amt struct {
		InstdAmt painAmount `xml:"InstdAmt"`
	} `xml:"Amt"`
	CdtrAgt  *painAgent  `xml:"CdtrAgt,omitempty"`
	Cdtr     painParty   `xml:"Cdtr"`
	CdtrAcct painAccount `xml:"CdtrAcct"`
	RmtInf   *struct {
		Ustrd string `xml:"Ustrd"`
	} `xml:"RmtInf,omitempty"`
}

type painAmount struct {
	Ccy   string `xml:"Ccy,attr"`
	Value string `xml:",chardata"`
}

func agent(bic string) painAgent {
	var a painAgent
	if bic == "" {
		a.FinInstnID.Othr = &painOthr{ID: "NOTPROVIDED"}
	} else {
		a.FinInstnID.BIC = bic
	}
	return a
}

// XML writes the batch as a pain.001.001.03 document. It returns
// ErrCreditTransfer (wrapped, saying what is wrong) for an empty batch, a
// bad IBAN or BIC, an amount that is not positive with at most two
// decimals (or above 999 999 999,99), a missing name, an identifier
// outside the SEPA character set or longer than 35, or an end-to-end id
// used twice.
func (ct CreditTransfer) XML() ([]byte, error) {
	bad := func(format string, args ...any) ([]byte, error) {
		return nil, fmt.Errorf("%w: %s", ErrCreditTransfer, fmt.Sprintf(format, args...))
	}
	if len(ct.Payments) == 0 {
		return bad("no payment in the batch")
	}
	if !sepaID.MatchString(ct.MessageID) {
		return bad("message id %q: 1 to 35 characters of the SEPA set", ct.MessageID)
	}
	debtorIBAN, err := ParseIBAN(ct.DebtorIBAN)
	if err != nil {
		return bad("debtor account: %v", err)
	}
	debtorBIC := ""
	if ct.DebtorBIC != "" {
		if debtorBIC, err = ParseBIC(ct.DebtorBIC); err != nil {
			return bad("debtor BIC: %v", err)
		}
	}
	debtor := SEPAText(ct.DebtorName, 70)
	if debtor == "" {
		return bad("debtor name missing")
	}
	if ct.ExecutionDate.IsZero() || ct.CreatedAt.IsZero() {
		return bad("creation time and execution date are required")
	}
	max := decimal.RequireFromString("999999999.99")
	doc := painDocument{Xmlns: Pain001Namespace}
	seen := map[string]bool{}
	pi := &doc.Init.PmtInf
	for i, p := range ct.Payments {
		if !sepaID.MatchString(p.EndToEndID) || seen[p.EndToEndID] {
			return bad("payment %d: end-to-end id %q missing, outside the SEPA set, longer than 35 or repeated", i+1, p.EndToEndID)
		}
		seen[p.EndToEndID] = true
		if !p.Amount.IsPositive() || !p.Amount.Equal(p.Amount.Round(2)) || p.Amount.GreaterThan(max) {
			return bad("payment %s: amount %s must be positive with at most two decimals", p.EndToEndID, p.Amount.String())
		}
		iban, err := ParseIBAN(p.IBAN)
		if err != nil {
			return bad("payment %s: %v", p.EndToEndID, err)
		}
		name := SEPAText(p.Name, 70)
		if name == "" {
			return bad("payment %s: beneficiary name missing", p.EndToEndID)
		}
		tx := painTx{Cdtr: painParty{Nm: name}}
		tx.PmtID.EndToEndID = p.EndToEndID
		tx.Amt.InstdAmt = painAmount{Ccy: "EUR", Value: p.Amount.StringFixed(2)}
		if p.BIC != "" {
			bic, err := ParseBIC(p.BIC)
			if err != nil {
				return bad("payment %s: %v", p.EndToEndID, err)
			}
			a := agent(bic)
			tx.CdtrAgt = &a
		}
		tx.CdtrAcct.ID.IBAN = iban
		if r := SEPAText(p.Remittance, 140); r != "" {
			tx.RmtInf = &struct {
				Ustrd string `xml:"Ustrd"`
			}{r}
		}
		pi.CdtTrfTxInf = append(pi.CdtTrfTxInf, tx)
	}
	sum := ct.ControlSum().StringFixed(2)
	doc.Init.GrpHdr = painGroupHeader{MsgID: ct.MessageID, CreDtTm: ct.CreatedAt.Format("2006-01-02T15:04:05"),
		NbOfTxs: len(ct.Payments), CtrlSum: sum, InitgPty: painParty{Nm: debtor}}
	pi.PmtInfID, pi.PmtMtd, pi.BtchBookg = ct.MessageID, "TRF", true
	pi.NbOfTxs, pi.CtrlSum = len(ct.Payments), sum
	pi.PmtTpInf.SvcLvl.Cd = "SEPA"
	pi.ReqdExctnDt = ct.ExecutionDate.Format(time.DateOnly)
	pi.Dbtr = painParty{Nm: debtor}
	pi.DbtrAcct.ID.IBAN = debtorIBAN
	pi.DbtrAcct.Ccy = "EUR"
	pi.DbtrAgt = agent(debtorBIC)
	pi.ChrgBr = "SLEV"
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("sepa: write pain.001: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}
