package sepa

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	qr "github.com/piglig/go-qr"
	"github.com/shopspring/decimal"
)

func TestEPCPayload(t *testing.T) {
	tests := []struct {
		name string
		p    EPCPayload
		want string
	}{
		{
			name: "OGM reference",
			p: EPCPayload{BIC: "gebabebb", Name: "École Saint-Joseph", IBAN: "BE68 5390 0754 7034",
				Amount: decimal.RequireFromString("12.5"), Reference: "+++010/8068/17183+++"},
			want: "BCD\n002\n1\nSCT\nGEBABEBB\nÉcole Saint-Joseph\nBE68539007547034\nEUR12.50\n\n010806817183",
		},
		{
			name: "RF reference, note, purpose, no BIC",
			p: EPCPayload{Name: "PO Tartine", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("3.70"),
				Purpose: "gdds", Reference: "rf18 5390 0754 7034", Note: "Merci !"},
			want: "BCD\n002\n1\nSCT\n\nPO Tartine\nBE71096123456769\nEUR3.70\nGDDS\nRF18539007547034\n\nMerci !",
		},
		{
			name: "free text",
			p: EPCPayload{Name: "PO Tartine", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("999999999.99"),
				Text: "Repas novembre — Emma"},
			want: "BCD\n002\n1\nSCT\n\nPO Tartine\nBE71096123456769\nEUR999999999.99\n\n\nRepas novembre — Emma",
		},
		{
			name: "no amount",
			p:    EPCPayload{Name: "PO Tartine", IBAN: "BE71096123456769", Reference: "012345678939"},
			want: "BCD\n002\n1\nSCT\n\nPO Tartine\nBE71096123456769\n\n\n012345678939",
		},
		{
			name: "minimum amount",
			p:    EPCPayload{Name: "X", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("0.01")},
			want: "BCD\n002\n1\nSCT\n\nX\nBE71096123456769\nEUR0.01",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Payload()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("payload\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEPCPayloadErrors(t *testing.T) {
	ok := EPCPayload{Name: "PO Tartine", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("10")}
	tests := []struct {
		name   string
		modify func(*EPCPayload)
		want   string // part of the error message
	}{
		{"bad BIC", func(p *EPCPayload) { p.BIC = "GEBA" }, "BIC"},
		{"no name", func(p *EPCPayload) { p.Name = "  " }, "name is required"},
		{"long name", func(p *EPCPayload) { p.Name = strings.Repeat("é", 71) }, "71 characters, at most 70"},
		{"newline in name", func(p *EPCPayload) { p.Name = "a\nb" }, "line break"},
		{"bad IBAN", func(p *EPCPayload) { p.IBAN = "BE69539007547034" }, "IBAN"},
		{"amount too small", func(p *EPCPayload) { p.Amount = decimal.RequireFromString("0.001") }, "not in 0.01"},
		{"negative amount", func(p *EPCPayload) { p.Amount = decimal.RequireFromString("-1") }, "not in 0.01"},
		{"amount too large", func(p *EPCPayload) { p.Amount = decimal.RequireFromString("1000000000") }, "not in 0.01"},
		{"three decimals", func(p *EPCPayload) { p.Amount = decimal.RequireFromString("1.005") }, "more than two decimals"},
		{"purpose", func(p *EPCPayload) { p.Purpose = "GDDSX" }, "purpose"},
		{"bad OGM", func(p *EPCPayload) { p.Reference = "+++010/8068/17184+++" }, "check digits"},
		{"bad RF", func(p *EPCPayload) { p.Reference = "RF19539007547034" }, "creditor reference"},
		{"reference and text", func(p *EPCPayload) { p.Reference = "012345678939"; p.Text = "x" }, "not both"},
		{"long text", func(p *EPCPayload) { p.Text = strings.Repeat("a", 141) }, "at most 140"},
		{"long note", func(p *EPCPayload) { p.Note = strings.Repeat("a", 71) }, "at most 70"},
		{"payload over 331 bytes", func(p *EPCPayload) {
			p.BIC = "GEBABEBBXXX"
			p.Name = strings.Repeat("é", 70)
			p.Text = strings.Repeat("ü", 140)
		}, "at most 331"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.modify(&p)
			_, err := p.Payload()
			if !errors.Is(err, ErrEPC) {
				t.Fatalf("error = %v, want ErrEPC", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// zbarimg returns the path of the zbarimg binary or fails the test: the
// decoding test must not be skipped.
func zbarimg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatalf("zbarimg not found (%v): run `apt-get install -y zbar-tools` (Debian package zbar-tools)", err)
	}
	return path
}

// TestEPCQRPNGDecodes renders payloads as PNG and reads them back with
// zbarimg, which must give the exact payload bytes (newlines and UTF-8 kept).
func TestEPCQRPNGDecodes(t *testing.T) {
	bin := zbarimg(t)
	payloads := []EPCPayload{
		{BIC: "GEBABEBB", Name: "École Saint-Joseph – Tartine", IBAN: "BE68539007547034",
			Amount: decimal.RequireFromString("12.50"), Reference: "+++010/8068/17183+++", Note: "Recharge du portefeuille d'Emma"},
		{Name: "PO Tartine", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("3.7"),
			Text: strings.Repeat("Repas ", 23)},
	}
	dir := t.TempDir()
	for i, p := range payloads {
		want, err := p.Payload()
		if err != nil {
			t.Fatal(err)
		}
		png, err := EPCQRPNG(want, 400)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("EPCQRPNG did not return a PNG")
		}
		file := filepath.Join(dir, "qr.png")
		if err := os.WriteFile(file, png, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--raw", "-q", "--oneshot", "-Sbinary", file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("payload %d: zbarimg: %v: %s", i, err, stderr.String())
		}
		got := strings.TrimSuffix(string(out), "\n")
		if got != want {
			t.Errorf("payload %d decoded\ngot  %q\nwant %q", i, got, want)
		}
	}
}

// TestEPCQRPNGDecodesAsUTF8 reads EPC QR codes with a plain `zbarimg --raw`
// (no -Sbinary: zbar turns the bytes into text itself, as the apps built on
// it do), which must give the payload's text, accents and guillemets
// included, with error correction level M.
func TestEPCQRPNGDecodesAsUTF8(t *testing.T) {
	bin := zbarimg(t)
	payloads := []EPCPayload{
		{Name: "Crèche « Les Petits »", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("3.70"),
			Reference: "+++010/8068/17183+++"},
		{BIC: "GEBABEBB", Name: "École Saint-Joseph – Tartine", IBAN: "BE68539007547034",
			Amount: decimal.RequireFromString("12.50"), Text: "Repas de décembre pour Noé, Zoë et Anaïs (classe P3A)",
			Note: "Recharge du portefeuille — merci !"},
		{Name: "PO Tartine", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("1")}, // ASCII only
	}
	dir := t.TempDir()
	for i, p := range payloads {
		want, err := p.Payload()
		if err != nil {
			t.Fatal(err)
		}
		img, err := EPCQRPNG(want, 320)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, fmt.Sprintf("qr%d.png", i))
		if err := os.WriteFile(file, img, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--raw", "-q", file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("payload %d: zbarimg: %v: %s", i, err, stderr.String())
		}
		if got := strings.TrimSuffix(string(out), "\n"); got != want {
			t.Errorf("payload %d: zbarimg --raw read\ngot  %q\nwant %q", i, got, want)
		}
		decoded, err := png.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		if b := decoded.Bounds(); b.Dx() != 320 || b.Dy() != 320 {
			t.Errorf("payload %d: image %v, want 320×320", i, b)
		}
		res, err := qr.DecodeDetailed(decoded)
		if err != nil {
			t.Fatalf("payload %d: decode: %v", i, err)
		}
		if res.Ecc != qr.Medium {
			t.Errorf("payload %d: error correction %v, want M", i, res.Ecc)
		}
		if res.Text != want {
			t.Errorf("payload %d: go-qr read %q, want %q", i, res.Text, want)
		}
	}
}

// TestEPCQRPNGOnePixelPerModule: size 0 gives one pixel per module and a
// quiet zone of 4.
func TestEPCQRPNGOnePixelPerModule(t *testing.T) {
	want, err := EPCPayload{Name: "Crèche « Les Petits »", IBAN: "BE71096123456769", Amount: decimal.RequireFromString("9.99")}.Payload()
	if err != nil {
		t.Fatal(err)
	}
	img, err := EPCQRPNG(want, 0)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	res, err := qr.DecodeDetailed(decoded)
	if err != nil {
		t.Fatal(err)
	}
	if side, modules := decoded.Bounds().Dx(), 17+4*res.Version+8; side != modules {
		t.Errorf("image of %d pixels, want %d (version %d + quiet zone)", side, modules, res.Version)
	}
	if res.Text != want {
		t.Errorf("decoded %q, want %q", res.Text, want)
	}
}

func TestEPCQRPNGErrors(t *testing.T) {
	if _, err := EPCQRPNG("", 256); !errors.Is(err, ErrEPC) {
		t.Errorf("empty payload error = %v", err)
	}
	if _, err := EPCQRPNG(strings.Repeat("a", 332), 256); !errors.Is(err, ErrEPC) {
		t.Errorf("long payload error = %v", err)
	}
}
