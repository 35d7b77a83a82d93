// Package spreadsheet writes CSV files that spreadsheets open without
// running what they contain: a cell that starts like a formula (=, +, -,
// @, a tab or a carriage return) gets a leading apostrophe, so that
// "=HYPERLINK(…)" typed as a name is shown, not followed. Plain numbers
// ("-3.70", "+32", "1234,50") are kept as they are.
package spreadsheet

import (
	"encoding/csv"
	"io"
	"regexp"
	"strings"
)

// number is a plain decimal number, with a sign and a dot or a comma.
var number = regexp.MustCompile(`^[-+]?[0-9]+([.,][0-9]+)?$`)

// Cell returns s defused for a spreadsheet.
func Cell(s string) string {
	if s == "" || !strings.ContainsRune("=+-@\t\r", rune(s[0])) || number.MatchString(s) {
		return s
	}
	return "'" + s
}

// Writer is a csv.Writer whose Write defuses every cell (Cell).
type Writer struct {
	*csv.Writer
}

// NewWriter returns a Writer on w (csv.Writer's defaults: comma, LF;
// set Comma and UseCRLF on it as needed).
func NewWriter(w io.Writer) *Writer { return &Writer{csv.NewWriter(w)} }

// Write writes one record, each cell defused.
func (w *Writer) Write(record []string) error {
	out := make([]string, len(record))
	for i, s := range record {
		out[i] = Cell(s)
	}
	return w.Writer.Write(out)
}
