package statements

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-pdf/fpdf"
	"github.com/shopspring/decimal"
	qrcode "github.com/skip2/go-qrcode"

	"tartine/internal/i18n"
	"tartine/sepa"
)

// EPC returns the EPC069-12 QR payload that pays py of the statement (the
// amount and the 12-digit communication), or "" when there is nothing to
// pay or the school has no IBAN.
func (c Content) EPC(py Payer) (string, error) {
	if !py.Amount.IsPositive() || c.School.IBAN == "" {
		return "", nil
	}
	name := c.School.Beneficiary
	if name == "" {
		name = c.School.Name
	}
	if len([]rune(name)) > 70 {
		name = string([]rune(name)[:70])
	}
	return sepa.EPCPayload{BIC: c.School.BIC, Name: name, IBAN: c.School.IBAN, Amount: py.Amount, Reference: py.OGM}.Payload()
}

// labels looks up statement labels in one language.
type labels struct {
	cat  *i18n.Catalog
	lang string
}

func (l labels) T(key string, args ...any) string { return l.cat.T(l.lang, "statements."+key, args...) }
func (l labels) eur(d decimal.Decimal) string     { return i18n.FormatEUR(d, l.lang) }
func (l labels) date(t time.Time) string          { return i18n.FormatDateShort(t, l.lang) }

// ogmText formats 12 digits as +++ddd/dddd/ddddd+++.
func ogmText(d string) string {
	s, err := sepa.FormatOGM(d)
	if err != nil {
		return d
	}
	return s
}

// PDF renders the statement on A4 in lang (fr or en): every line with its
// date, object, amount and obligatoire/facultatif, the services apart, the
// balance, how to pay with an EPC QR code per payer, the facilities offer
// over 50 €, the no-consequence sentence and the contact. Accents are
// written in the core fonts' cp1252 encoding.
func (s *Service) PDF(c Content, lang string) ([]byte, error) {
	return renderPDF(labels{s.Catalog, normLang(lang)}, c)
}

func normLang(lang string) string {
	if lang == i18n.EN {
		return i18n.EN
	}
	return i18n.FR
}

func renderPDF(l labels, c Content) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(l.T("number", c.Number), true)
	pdf.SetCreator("Tartine", true)
	pdf.SetMargins(18, 16, 18)
	pdf.SetAutoPageBreak(true, 16)
	pdf.SetCompression(false) // deflate costs a fifth of a statement; the file stays ~20 KB
	tr := cp1252
	pdf.AddPage()
	w := 210.0 - 36
	text := func(style string, size float64, h float64, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(w, h, tr(s), "", "L", false)
	}
	row := func(style string, cells []string, widths []float64, aligns string) {
		pdf.SetFont("Helvetica", style, 9.5)
		for i, cell := range cells {
			pdf.CellFormat(widths[i], 6, tr(cell), "B", 0, string(aligns[i]), false, 0, "")
		}
		pdf.Ln(-1)
	}
	// Header: school on the left, statement on the right.
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(w/2, 6, tr(c.School.Name), "", 0, "L", false, 0, "")
	pdf.CellFormat(w/2, 6, tr(l.T("number", c.Number)), "", 1, "R", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	pdf.CellFormat(w/2, 5, tr(c.Organiser), "", 0, "L", false, 0, "")
	v := l.T("issued_on", l.date(c.IssuedOn))
	if c.Version > 1 {
		v += " — " + l.T("version", c.Version)
	}
	pdf.CellFormat(w/2, 5, tr(v), "", 1, "R", false, 0, "")
	if c.School.Address != "" {
		text("", 9, 4.5, c.School.Address)
	}
	pdf.Ln(4)
	text("B", 15, 8, l.T("title"))
	text("", 10, 5, l.T("period", c.Period.SchoolYear, c.Period.Seq, l.date(c.Period.From), l.date(c.Period.To)))
	text("", 10, 5, l.T("pupil", c.Pupil.FirstName+" "+c.Pupil.LastName)+"   "+l.T("class", c.Pupil.Class))
	var names []string
	for _, a := range c.Addressees {
		names = append(names, a.Name)
	}
	text("", 10, 5, l.T("addressees", strings.Join(names, ", ")))
	if c.Changes != "" {
		pdf.Ln(1)
		text("I", 9, 4.5, l.T("changes", c.Changes))
	}
	pdf.Ln(3)
	// Fee lines.
	text("B", 11, 6, l.T("fees"))
	widths := []float64{24, 92, 34, 24}
	if len(c.Lines) == 0 {
		text("", 9.5, 5, l.T("no_fees"))
	} else {
		row("B", []string{l.T("col_date"), l.T("col_object"), l.T("col_kind"), l.T("col_amount")}, widths, "LLLR")
		for _, ln := range c.Lines {
			kind := l.T(ln.Kind)
			if ln.Credit {
				kind += " (" + l.T("credit") + ")"
			}
			obj := ln.Object
			if len([]rune(obj)) > 60 {
				obj = string([]rune(obj)[:59]) + "…"
			}
			row("", []string{l.date(ln.Date), obj, kind, l.eur(ln.Signed())}, widths, "LLLR")
		}
	}
	pdf.Ln(3)
	// Services apart.
	if len(c.Services) > 0 {
		text("B", 11, 6, l.T("services"))
		for _, sv := range c.Services {
			row("", []string{l.T(sv.Service), l.T("quantity", sv.Quantity), l.eur(sv.Total)}, []float64{116, 34, 24}, "LRR")
		}
		pdf.Ln(3)
	}
	// Balance.
	sum := func(label string, d decimal.Decimal, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, 10)
		pdf.CellFormat(w-34, 6, tr(label), "", 0, "R", false, 0, "")
		pdf.CellFormat(34, 6, tr(l.eur(d)), "", 1, "R", false, 0, "")
	}
	sum(l.T("previous"), c.Previous, false)
	sum(l.T("fees_total"), c.Fees, false)
	sum(l.T("payments"), c.Payments.Neg(), false)
	if !c.WriteOffs.IsZero() {
		sum(l.T("write_offs"), c.WriteOffs.Neg(), false)
	}
	sum(l.T("total_due"), decimal.Max(c.TotalDue, decimal.Zero), true)
	if c.TotalDue.IsNegative() {
		text("", 9.5, 5, l.T("credit_balance", l.eur(c.TotalDue.Neg())))
	} else if c.TotalDue.IsPositive() {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(w, 6, tr(l.T("due_on", l.date(c.DueOn))), "", 1, "R", false, 0, "")
	}
	pdf.Ln(3)
	// How to pay.
	if len(c.Payers) > 0 {
		text("B", 11, 6, l.T("how_to_pay"))
		text("", 9.5, 5, l.T("iban", sepaIBAN(c.School.IBAN), firstNonEmpty(c.School.Beneficiary, c.School.Name)))
		for _, py := range c.Payers {
			payload, err := c.EPC(py)
			if err != nil {
				return nil, fmt.Errorf("statement %s: EPC QR: %w", c.Number, err)
			}
			line := l.T("communication", ogmText(py.OGM))
			if py.GuardianID != 0 {
				line = l.T("payer", py.Name, l.eur(py.Amount)) + " — " + line
			}
			y := pdf.GetY()
			if payload != "" {
				if y > 297-16-36 {
					pdf.AddPage()
					y = pdf.GetY()
				}
				if err := drawQR(pdf, payload, 18, y, 32); err != nil {
					return nil, fmt.Errorf("statement %s: QR: %w", c.Number, err)
				}
				pdf.SetXY(54, y+4)
				pdf.SetFont("Helvetica", "B", 10)
				pdf.MultiCell(w-36, 5, tr(line), "", "L", false)
				pdf.SetX(54)
				pdf.SetFont("Helvetica", "", 9)
				pdf.MultiCell(w-36, 4.5, tr(l.T("qr")), "", "L", false)
				pdf.SetY(y + 34)
			} else {
				text("B", 10, 5, line)
			}
		}
		text("", 9, 4.5, l.T("portal"))
		pdf.Ln(2)
	}
	if len(c.Instalments) > 0 {
		text("B", 10, 5, l.T("instalments"))
		for _, in := range c.Instalments {
			text("", 9.5, 5, l.T("instalment", in.Seq, in.Of, in.Number, l.date(in.DueOn), l.eur(in.Amount)))
		}
		pdf.Ln(1)
	}
	if c.Facilities {
		text("B", 9.5, 5, l.T("facilities"))
		pdf.Ln(1)
	}
	text("", 9.5, 5, l.T("no_consequence"))
	if c.School.Contact != "" {
		text("", 9.5, 5, l.T("contact", c.School.Contact))
	} else {
		text("", 9.5, 5, l.T("contact_school", c.School.Name))
	}
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("statement %s: pdf: %w", c.Number, err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("statement %s: pdf: %w", c.Number, err)
	}
	return buf.Bytes(), nil
}

func sepaIBAN(iban string) string {
	if s, err := sepa.FormatIBAN(iban); err == nil {
		return s
	}
	return iban
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// drawQR draws the QR code of payload (error correction M, as EPC069-12
// asks) as vector squares, size mm wide with its quiet zone, at x, y: one
// filled rectangle per run of dark modules in a row. It is sharper than an
// image and several times faster than encoding a PNG that fpdf would then
// decode and compress again.
func drawQR(pdf *fpdf.Fpdf, payload string, x, y, size float64) error {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return err
	}
	bm := q.Bitmap() // with a 4-module quiet zone
	m := size / float64(len(bm))
	pdf.SetFillColor(0, 0, 0)
	for r, row := range bm {
		for c := 0; c < len(row); {
			if !row[c] {
				c++
				continue
			}
			start := c
			for c < len(row) && row[c] {
				c++
			}
			pdf.Rect(x+float64(start)*m, y+float64(r)*m, float64(c-start)*m, m, "F")
		}
	}
	return nil
}

// cp1252 writes UTF-8 text in the core fonts' encoding (Windows-1252),
// narrow no-break spaces (French thousands) as no-break spaces. The table
// is parsed once for every document.
func cp1252(s string) string {
	cp1252Once.Do(func() { cp1252Tr = fpdf.New("P", "mm", "A4", "").UnicodeTranslatorFromDescriptor("") })
	return cp1252Tr(strings.ReplaceAll(s, "\u202f", "\u00a0"))
}

var (
	cp1252Once sync.Once
	cp1252Tr   func(string) string
)
