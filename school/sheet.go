package school

import (
	"bytes"
	"context"
	"fmt"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"
)

// SheetBadge is one card of a QR badge sheet.
type SheetBadge struct {
	Token     string // the QR badge uid
	FirstName string
	ClassCode string
}

// Card layout on A4 portrait: 3 × 7 cards of 63 × 38 mm (common label
// sheets), margins 7.5 mm left/right and 15.5 mm top.
const (
	sheetCols, sheetRows = 3, 7
	cardW, cardH         = 63.0, 38.1
	sheetLeft, sheetTop  = 10.5, 15.15
	qrSize               = 30.0
)

// BadgeSheetPDF renders QR badges as an A4 PDF sheet of cut-out cards, each
// with the QR code of the token, the pupil's first name and class (never
// the last name: a lost card should not identify a child). It returns
// ErrInvalid for an empty list or a card without token.
func BadgeSheetPDF(cards []SheetBadge) ([]byte, error) {
	if len(cards) == 0 {
		return nil, invalid("badge sheet: no badges")
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetTitle("Tartine - badges QR", true)
	pdf.SetCreator("Tartine", true)
	pdf.SetAutoPageBreak(false, 0)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 → cp1252 for core fonts
	perPage := sheetCols * sheetRows
	for i, c := range cards {
		if c.Token == "" {
			return nil, invalid("badge sheet: card %d has no token", i+1)
		}
		if i%perPage == 0 {
			pdf.AddPage()
		}
		k := i % perPage
		x := sheetLeft + float64(k%sheetCols)*cardW
		y := sheetTop + float64(k/sheetCols)*cardH
		png, err := qrcode.Encode(c.Token, qrcode.Medium, 256)
		if err != nil {
			return nil, fmt.Errorf("badge sheet: qr %d: %w", i+1, err)
		}
		name := fmt.Sprintf("qr%d", i)
		pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(png))
		pdf.SetDrawColor(200, 200, 200)
		pdf.SetDashPattern([]float64{1, 1}, 0)
		pdf.Rect(x, y, cardW, cardH, "D")
		pdf.ImageOptions(name, x+2, y+(cardH-qrSize)/2, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		pdf.SetFont("Helvetica", "B", 13)
		pdf.SetXY(x+qrSize+3, y+9)
		pdf.CellFormat(cardW-qrSize-5, 7, tr(c.FirstName), "", 2, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 11)
		pdf.CellFormat(cardW-qrSize-5, 6, tr(c.ClassCode), "", 2, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 6)
		pdf.SetTextColor(120, 120, 120)
		pdf.CellFormat(cardW-qrSize-5, 8, "Tartine", "", 2, "L", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	}
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("badge sheet: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("badge sheet: %w", err)
	}
	return buf.Bytes(), nil
}

// QRSheetBadges returns the school's active QR badges assigned to active
// pupils, by class and first name, ready for BadgeSheetPDF.
func (s *Store) QRSheetBadges(ctx context.Context, tenantID, schoolID int64) ([]SheetBadge, error) {
	rows, err := s.pool.Query(ctx, `SELECT b.uid, p.first_name, coalesce(c.code, p.level)
		FROM badges b JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id
		LEFT JOIN classes c ON c.tenant_id = p.tenant_id AND c.id = p.class_id
		WHERE b.tenant_id = $1 AND p.school_id = $2 AND b.tech = 'qr' AND b.status = 'active' AND p.active
		ORDER BY 3, lower(p.first_name), b.id`, tenantID, schoolID)
	if err != nil {
		return nil, fmt.Errorf("qr badges: %w", err)
	}
	defer rows.Close()
	var out []SheetBadge
	for rows.Next() {
		var b SheetBadge
		if err := rows.Scan(&b.Token, &b.FirstName, &b.ClassCode); err != nil {
			return nil, fmt.Errorf("qr badges: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
