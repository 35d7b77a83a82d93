package sepa

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"unicode/utf8"

	qr "github.com/piglig/go-qr"
	"github.com/shopspring/decimal"
)

// ErrEPC is returned (wrapped) when an EPC QR payload cannot be built.
var ErrEPC = errors.New("sepa: invalid EPC QR payload")

// EPC069-12 limits.
const (
	epcMaxName      = 70
	epcMaxPurpose   = 4
	epcMaxReference = 35
	epcMaxText      = 140
	epcMaxNote      = 70
	epcMaxPayload   = 331
)

var (
	epcMinAmount = decimal.New(1, -2)                        // 0.01
	epcMaxAmount = decimal.RequireFromString("999999999.99") // 999 999 999.99
)

// EPCPayload is the content of an EPC069-12 "SEPA credit transfer" QR code
// (version 002, character set 1 = UTF-8).
type EPCPayload struct {
	// BIC of the beneficiary's bank; optional in version 002.
	BIC string
	// Name of the beneficiary, 1–70 characters.
	Name string
	// IBAN of the beneficiary; any form ParseIBAN accepts.
	IBAN string
	// Amount in euro, 0.01–999 999 999.99 with at most two decimals. Zero
	// leaves the amount out so that the payer types it (e.g. a wallet top-up).
	Amount decimal.Decimal
	// Purpose is an optional ISO 20022 purpose code of up to 4 letters or digits.
	Purpose string
	// Reference is the structured remittance information: a Belgian
	// structured communication (any form ParseOGM accepts, written as its 12
	// digits) or an ISO 11649 RF reference. Use Reference or Text, not both.
	Reference string
	// Text is the unstructured remittance information, up to 140 characters.
	Text string
	// Note is shown to the payer by the banking app, up to 70 characters.
	Note string
}

// Payload builds the payload text: the twelve EPC069-12 fields separated by LF
// (BCD, 002, 1, SCT, BIC, name, IBAN, EUR amount, purpose, reference, text,
// note), the trailing empty fields left out so that the last field is not
// followed by LF. It returns an error wrapping ErrEPC that names the field at
// fault, or when the whole payload exceeds 331 bytes.
func (p EPCPayload) Payload() (string, error) {
	var bic string
	if strings.TrimSpace(p.BIC) != "" {
		b, err := ParseBIC(p.BIC)
		if err != nil {
			return "", fmt.Errorf("%w: BIC: %w", ErrEPC, err)
		}
		bic = b
	}
	name := strings.TrimSpace(p.Name)
	if err := epcText("beneficiary name", name, epcMaxName); err != nil {
		return "", err
	}
	if name == "" {
		return "", fmt.Errorf("%w: beneficiary name is required", ErrEPC)
	}
	iban, err := ParseIBAN(p.IBAN)
	if err != nil {
		return "", fmt.Errorf("%w: IBAN: %w", ErrEPC, err)
	}
	var amount string
	if !p.Amount.IsZero() {
		if p.Amount.LessThan(epcMinAmount) || p.Amount.GreaterThan(epcMaxAmount) {
			return "", fmt.Errorf("%w: amount %s not in 0.01..999999999.99", ErrEPC, p.Amount)
		}
		if !p.Amount.Equal(p.Amount.Truncate(2)) {
			return "", fmt.Errorf("%w: amount %s has more than two decimals", ErrEPC, p.Amount)
		}
		amount = "EUR" + p.Amount.StringFixed(2)
	}
	purpose := strings.TrimSpace(p.Purpose)
	if purpose != "" && (len(purpose) > epcMaxPurpose || !isUpperAlnum(strings.ToUpper(purpose))) {
		return "", fmt.Errorf("%w: purpose %q must be up to %d letters or digits", ErrEPC, p.Purpose, epcMaxPurpose)
	}
	purpose = strings.ToUpper(purpose)
	var ref string
	if strings.TrimSpace(p.Reference) != "" {
		if ogm, err := ParseOGM(p.Reference); err == nil {
			ref = ogm
		} else if rf, rfErr := ParseRF(p.Reference); rfErr == nil {
			ref = rf
		} else if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(p.Reference)), "RF") {
			return "", fmt.Errorf("%w: reference: %w", ErrEPC, rfErr)
		} else {
			return "", fmt.Errorf("%w: reference: %w", ErrEPC, err)
		}
	}
	text := strings.TrimSpace(p.Text)
	if err := epcText("text", text, epcMaxText); err != nil {
		return "", err
	}
	if ref != "" && text != "" {
		return "", fmt.Errorf("%w: give a structured reference or a text, not both", ErrEPC)
	}
	note := strings.TrimSpace(p.Note)
	if err := epcText("note", note, epcMaxNote); err != nil {
		return "", err
	}
	fields := []string{"BCD", "002", "1", "SCT", bic, name, iban, amount, purpose, ref, text, note}
	for len(fields) > 0 && fields[len(fields)-1] == "" {
		fields = fields[:len(fields)-1]
	}
	s := strings.Join(fields, "\n")
	if len(s) > epcMaxPayload {
		return "", fmt.Errorf("%w: payload is %d bytes, at most %d", ErrEPC, len(s), epcMaxPayload)
	}
	return s, nil
}

// epcText checks one free-text field: valid UTF-8, no line breaks or control
// characters, at most max characters.
func epcText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrEPC, field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s holds a line break or control character", ErrEPC, field)
		}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%w: %s has %d characters, at most %d", ErrEPC, field, n, max)
	}
	return nil
}

// eciUTF8 is the ECI assignment number of UTF-8 (ISO/IEC 18004, AIM ECI).
const eciUTF8 = 26

// quietZone is the white border around a QR code, in modules.
const quietZone = 4

// EPCQRPNG renders payload (the output of EPCPayload.Payload) as a PNG QR code
// of size×size pixels with error correction level M, as EPC069-12 requires.
// A size too small for one pixel per module (0 included) gives one pixel
// per module with a 4-module quiet zone, for a PDF that scales the image.
//
// The payload is one byte segment announced by an ECI designator 26
// (UTF-8). EPC069-12's character set field (line 3, "1") says UTF-8 to a
// banking app that reads it, but a QR decoder turns bytes into text before:
// without an ECI it guesses, and zbar (zbarimg, and the apps built on it)
// guesses Shift-JIS first for any byte above 0x7F, so "Crèche « Les Petits »"
// came out as mojibake. With the ECI, decoders that honour it (zbar, ZXing,
// the phone platforms' readers) read UTF-8, and those that do not still get
// the same bytes.
func EPCQRPNG(payload string, size int) ([]byte, error) {
	if payload == "" || len(payload) > epcMaxPayload {
		return nil, fmt.Errorf("%w: payload of %d bytes, want 1 to %d", ErrEPC, len(payload), epcMaxPayload)
	}
	segs := make([]*qr.QrSegment, 0, 2)
	if !isASCII(payload) {
		eci, err := qr.MakeEci(eciUTF8)
		if err != nil {
			return nil, fmt.Errorf("sepa: encode EPC QR code: %w", err)
		}
		segs = append(segs, eci)
	}
	data, err := qr.MakeBytes([]byte(payload))
	if err != nil {
		return nil, fmt.Errorf("sepa: encode EPC QR code: %w", err)
	}
	segs = append(segs, data)
	code, err := qr.EncodeSegments(segs, qr.Medium, qr.MinVersion, qr.MaxVersion, -1, false)
	if err != nil {
		return nil, fmt.Errorf("sepa: encode EPC QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, qrImage(code, size)); err != nil {
		return nil, fmt.Errorf("sepa: encode EPC QR code as PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// qrImage draws code black on white with a quiet zone of 4 modules, scaled
// to whole pixels per module and centred in a size×size image.
func qrImage(code *qr.QrCode, size int) image.Image {
	n := code.Size() + 2*quietZone
	scale := max(size/n, 1)
	side := max(size, n*scale)
	off := (side - n*scale) / 2
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y := 0; y < code.Size(); y++ {
		for x := 0; x < code.Size(); x++ {
			if !code.Module(x, y) {
				continue
			}
			x0, y0 := off+(x+quietZone)*scale, off+(y+quietZone)*scale
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					img.SetGray(x0+dx, y0+dy, color.Gray{})
				}
			}
		}
	}
	return img
}

// isASCII reports whether s holds only 7-bit characters, which every
// decoder reads alike (no ECI needed).
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
