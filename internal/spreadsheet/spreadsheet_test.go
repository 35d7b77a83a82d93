package spreadsheet

import (
	"bytes"
	"testing"
)

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "",
		"Emma":                          "Emma",
		`=HYPERLINK("http://x","clic")`: `'=HYPERLINK("http://x","clic")`,
		"+32 2 123 45 67 =1+1":          "'+32 2 123 45 67 =1+1",
		"-cmd|' /C calc'!A0":            "'-cmd|' /C calc'!A0",
		"@SUM(A1:A2)":                   "'@SUM(A1:A2)",
		"\t=1":                          "'\t=1",
		"\r=1":                          "'\r=1",
		"-3.70":                         "-3.70",
		"+12":                           "+12",
		"1234,50":                       "1234,50",
		"Dupont = Martin":               "Dupont = Martin",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Write([]string{"=1+1", "-2.00", "ok"})
	w.Flush()
	if got, want := b.String(), "'=1+1,-2.00,ok\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
