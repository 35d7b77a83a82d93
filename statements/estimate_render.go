package statements

import (
	"bytes"
	"fmt"
	"html/template"

	"github.com/go-pdf/fpdf"
)

// EstimatePDF renders an estimate on A4 in lang: each heading with its
// kind and amount, the total, and the no-consequence sentence.
func (s *Service) EstimatePDF(e EstimateContent, lang string) ([]byte, error) {
	l := labels{s.Catalog, normLang(lang)}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle(l.T("estimate.title", e.SchoolYear), true)
	pdf.SetCreator("Tartine", true)
	pdf.SetMargins(18, 16, 18)
	pdf.SetCompression(false)
	tr := cp1252
	w := 210.0 - 36
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 12)
	pdf.MultiCell(w, 6, tr(e.School.Name), "", "L", false)
	pdf.SetFont("Helvetica", "", 9)
	if e.School.Address != "" {
		pdf.MultiCell(w, 4.5, tr(e.School.Address), "", "L", false)
	}
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "B", 15)
	pdf.MultiCell(w, 8, tr(l.T("estimate.title", e.SchoolYear)), "", "L", false)
	pdf.SetFont("Helvetica", "", 10)
	pdf.MultiCell(w, 5, tr(l.T("estimate.scope", e.Scope, l.T("version", e.Version))), "", "L", false)
	pdf.MultiCell(w, 5, tr(l.T("estimate.intro")), "", "L", false)
	pdf.Ln(3)
	pdf.SetFont("Helvetica", "B", 9.5)
	pdf.CellFormat(110, 6, tr(l.T("estimate.heading")), "B", 0, "L", false, 0, "")
	pdf.CellFormat(40, 6, tr(l.T("col_kind")), "B", 0, "L", false, 0, "")
	pdf.CellFormat(24, 6, tr(l.T("col_amount")), "B", 1, "R", false, 0, "")
	pdf.SetFont("Helvetica", "", 9.5)
	for _, h := range e.Headings {
		pdf.CellFormat(110, 6, tr(h.Heading), "B", 0, "L", false, 0, "")
		pdf.CellFormat(40, 6, tr(l.T(h.Kind)), "B", 0, "L", false, 0, "")
		pdf.CellFormat(24, 6, tr(l.eur(h.Amount)), "B", 1, "R", false, 0, "")
	}
	pdf.SetFont("Helvetica", "B", 10)
	pdf.CellFormat(150, 7, tr(l.T("estimate.total")), "", 0, "R", false, 0, "")
	pdf.CellFormat(24, 7, tr(l.eur(e.Total)), "", 1, "R", false, 0, "")
	pdf.Ln(3)
	pdf.SetFont("Helvetica", "", 9.5)
	if e.Note != "" {
		pdf.MultiCell(w, 5, tr(e.Note), "", "L", false)
	}
	pdf.MultiCell(w, 5, tr(l.T("no_consequence")), "", "L", false)
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("estimate: pdf: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("estimate: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// EstimateHTML renders an estimate as an HTML fragment for phones.
func (s *Service) EstimateHTML(e EstimateContent, lang string) (template.HTML, error) {
	l := labels{s.Catalog, normLang(lang)}
	var buf bytes.Buffer
	err := htmlTemplates.ExecuteTemplate(&buf, "estimate", struct {
		L htmlLabels
		E EstimateContent
	}{htmlLabels{l}, e})
	if err != nil {
		return "", fmt.Errorf("estimate: html: %w", err)
	}
	return template.HTML(buf.String()), nil
}
