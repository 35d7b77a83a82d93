package taxcert

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/go-pdf/fpdf"
	"github.com/shopspring/decimal"

	"tartine/internal/i18n"
)

// PDF renders a certificate on A4 after the official model 281.86 (in
// French): issuer and its recognition frame, debtor (payer) with national
// number, child with birth date and national number, up to four periods
// (from, to, days, daily rate, amount), total, sequence number and version.
// National numbers are opened here and nowhere else but the XML.
func (s *Service) PDF(c Certificate) ([]byte, error) {
	payerNISS, err := s.open(c.Content.Payer.NISS)
	if err != nil {
		return nil, err
	}
	childNISS, err := s.open(c.Content.Child.NISS)
	if err != nil {
		return nil, err
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252
	pdf.SetTitle(fmt.Sprintf("Attestation 281.86 %d n° %d", c.Year, c.Seq), true)
	pdf.SetCreator("Tartine", true)
	pdf.SetMargins(18, 16, 18)
	pdf.SetAutoPageBreak(true, 16)
	pdf.AddPage()
	w := 210.0 - 36
	eur := func(d decimal.Decimal) string { return i18n.FormatEUR(d, i18n.FR) }
	line := func(style string, size, h float64, s string) {
		pdf.SetFont("Helvetica", style, size)
		pdf.MultiCell(w, h, tr(s), "", "L", false)
	}
	box := func(title string, rows [][2]string) {
		pdf.Ln(3)
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(w, 6, tr(title), "B", 1, "L", false, 0, "")
		for _, r := range rows {
			pdf.SetFont("Helvetica", "", 9)
			pdf.CellFormat(55, 5, tr(r[0]), "", 0, "L", false, 0, "")
			pdf.MultiCell(w-55, 5, tr(r[1]), "", "L", false)
		}
	}
	line("B", 14, 7, "Attestation fiscale 281.86 — frais de garde d'enfants")
	line("", 10, 5, fmt.Sprintf("Revenus %d · exercice d'imposition %d", c.Year, c.Year+1))
	line("", 10, 5, fmt.Sprintf("Numéro d'ordre %d · version %d%s", c.Seq, c.Version, map[bool]string{true: " (rectificative)", false: ""}[c.Version > 1]))
	is := c.Content.Issuer
	box("1. Institution ou milieu d'accueil", [][2]string{
		{"Dénomination", is.IssuerName},
		{"Adresse", is.IssuerAddress + ", " + is.IssuerPostal + " " + is.IssuerCity},
		{"Numéro BCE", is.IssuerBCE},
		{"Cadre", frame(is.CertificationCode)},
	})
	p := c.Content.Payer
	box("2. Débiteur des frais de garde (la personne qui a payé)", [][2]string{
		{"Nom et prénom", p.name()},
		{"Adresse", p.Address},
		{"Numéro national", FormatNISS(payerNISS)},
		{"Part des frais", c.Content.SharePct.StringFixed(2) + " %"},
	})
	ch := c.Content.Child
	box("3. Enfant", [][2]string{
		{"Nom et prénom", ch.name()},
		{"Date de naissance", ch.BirthDate.Format("02/01/2006")},
		{"Adresse", ch.Address},
		{"Numéro national", FormatNISS(childNISS)},
	})
	pdf.Ln(3)
	pdf.SetFont("Helvetica", "B", 10)
	pdf.CellFormat(w, 6, tr("4. Périodes de garde et montants réellement payés"), "B", 1, "L", false, 0, "")
	widths := []float64{12, 32, 32, 22, 36, 40}
	head := []string{"", "Du", "Au", "Jours", "Tarif journalier", "Montant"}
	pdf.SetFont("Helvetica", "B", 9)
	for i, h := range head {
		pdf.CellFormat(widths[i], 6, tr(h), "B", 0, "L", false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 9)
	for i, pr := range c.Content.Periods {
		cells := []string{strconv.Itoa(i + 1), pr.From.Format("02/01/2006"), pr.To.Format("02/01/2006"), strconv.Itoa(pr.Days), eur(pr.DailyRate), eur(pr.Amount)}
		for j, s := range cells {
			pdf.CellFormat(widths[j], 6, tr(s), "", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.SetFont("Helvetica", "B", 10)
	pdf.CellFormat(w-40, 7, tr("Total des montants payés"), "T", 0, "L", false, 0, "")
	pdf.CellFormat(40, 7, tr(eur(c.Content.Total)), "T", 1, "L", false, 0, "")
	pdf.Ln(4)
	line("", 8.5, 4.2, "Seuls les jours de garde effectivement payés, en dehors des heures de classe, pour un enfant de moins de 14 ans sont repris ; "+
		"les repas ne le sont jamais. Le tarif journalier est le montant de la période divisé par son nombre de jours. "+
		"Ces données sont transmises à l'administration fiscale (Belcotax-on-web).")
	pdf.Ln(3)
	line("", 9, 5, fmt.Sprintf("Délivrée le %s par %s.", c.IssuedAt.Format("02/01/2006"), is.IssuerName))
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("taxcert: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// frame is the recognition frame of a certification code (f86_2031).
func frame(code int) string {
	switch code {
	case 1:
		return "agréé, subventionné ou contrôlé par l'ONE, Kind & Gezin / Opgroeien ou la Communauté germanophone"
	case 2:
		return "agréé, subventionné ou contrôlé par les pouvoirs publics locaux, communautaires ou régionaux"
	case 3:
		return "agréé ou contrôlé par une institution publique d'un autre État de l'EEE"
	case 4:
		return "lié à une école ou au pouvoir organisateur d'une école (art. 145/35, al. 2, 3°, CIR 92)"
	}
	return ""
}
