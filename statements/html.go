package statements

import (
	"bytes"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"time"

	"github.com/shopspring/decimal"
	qrcode "github.com/skip2/go-qrcode"
)

//go:embed templates/*.html
var templateFS embed.FS

var htmlTemplates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// htmlLabels are the labels the template calls.
type htmlLabels struct{ l labels }

func (h htmlLabels) T(key string, args ...any) string { return h.l.T(key, args...) }
func (h htmlLabels) EUR(d decimal.Decimal) string     { return h.l.eur(d) }
func (h htmlLabels) Date(t time.Time) string          { return h.l.date(t) }

type htmlPayer struct {
	Name   string
	Amount decimal.Decimal
	OGM    string
	QR     template.URL // data: URL of the EPC QR PNG
}

// HTML renders the statement as an HTML fragment for phones (the portal
// and back office put it in their layout), with the same content as the
// PDF and the EPC QR codes inline.
func (s *Service) HTML(c Content, lang string) (template.HTML, error) {
	l := labels{s.Catalog, normLang(lang)}
	data := struct {
		L                 htmlLabels
		C                 Content
		Due               decimal.Decimal
		IBAN, Beneficiary string
		Pay               []htmlPayer
	}{L: htmlLabels{l}, C: c, Due: decimal.Max(c.TotalDue, decimal.Zero), IBAN: sepaIBAN(c.School.IBAN), Beneficiary: firstNonEmpty(c.School.Beneficiary, c.School.Name)}
	for _, py := range c.Payers {
		hp := htmlPayer{Amount: py.Amount, OGM: ogmText(py.OGM)}
		if py.GuardianID != 0 {
			hp.Name = py.Name
		}
		payload, err := c.EPC(py)
		if err != nil {
			return "", fmt.Errorf("statement %s: EPC QR: %w", c.Number, err)
		}
		if payload != "" {
			png, err := qrcode.Encode(payload, qrcode.Medium, 256)
			if err != nil {
				return "", fmt.Errorf("statement %s: QR: %w", c.Number, err)
			}
			hp.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
		}
		data.Pay = append(data.Pay, hp)
	}
	var buf bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&buf, "statement", data); err != nil {
		return "", fmt.Errorf("statement %s: html: %w", c.Number, err)
	}
	return template.HTML(buf.String()), nil
}
