// Package sepa implements the Belgian and European payment formats that Tartine
// reads and writes: the Belgian structured communication (OGM/VCS), the ISO 11649
// creditor reference (RF), IBAN and BIC checks, the EPC069-12 "SEPA credit
// transfer" QR code, the Febelfin CODA bank statement format, and the SEPA
// credit transfer initiation file (ISO 20022 pain.001.001.03) for refunds.
//
// Every function that reads outside input validates it fully and returns an
// error that says what was wrong and, for files, on which line. Money is
// shopspring/decimal, never a float.
package sepa
