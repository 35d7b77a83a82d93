package school

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/encoding/charmap"
)

// MaxImportSize is the largest CSV file ImportPupils reads (32 MiB).
const MaxImportSize = 32 << 20

// ImportOptions says where and how to import.
type ImportOptions struct {
	TenantID int64
	SchoolID int64
	DryRun   bool   // validate and count, write nothing
	Actor    string // audit actor ("system" when empty)
	// Progress, when set, is called every ProgressEvery rows (500 when 0)
	// and once at the end with the number of rows processed and the total.
	Progress      func(done, total int)
	ProgressEvery int
}

// RowError is one problem found in the file.
type RowError struct {
	Line   int    // line number in the file (the header is line 1)
	Column string // column header, when the problem is one cell
	Reason string
}

func (e RowError) String() string {
	if e.Column != "" {
		return fmt.Sprintf("ligne %d, colonne %s : %s", e.Line, e.Column, e.Reason)
	}
	return fmt.Sprintf("ligne %d : %s", e.Line, e.Reason)
}

// ImportError lists every problem of a rejected file; nothing was written.
// It matches ErrInvalid with errors.Is.
type ImportError struct {
	Rows []RowError
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import refusé, rien n'a été enregistré : %d erreur(s)", len(e.Rows))
	for i, r := range e.Rows {
		if i == 50 {
			fmt.Fprintf(&b, "\n  … et %d autres", len(e.Rows)-50)
			break
		}
		b.WriteString("\n  " + r.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ImportError) Unwrap() error { return ErrInvalid }

// ImportReport says what an import did (or, dry, would do).
type ImportReport struct {
	Encoding         string // "UTF-8", "UTF-8 (BOM)" or "Windows-1252"
	Delimiter        rune
	Rows             int
	PupilsCreated    int
	PupilsUpdated    int
	PupilsUnchanged  int
	ClassesCreated   int
	GuardiansCreated int
	GuardiansUpdated int
	LinksCreated     int
	Warnings         []RowError // accepted, but worth a look
	DryRun           bool
}

// field is a canonical column of the import file.
type field string

const (
	fRef          field = "matricule"
	fLast         field = "nom"
	fFirst        field = "prénom"
	fBirth        field = "date_naissance"
	fClass        field = "classe"
	fLevel        field = "niveau"
	fAllergies    field = "allergies"
	fAllergyNotes field = "allergies_remarques"
	fDiet         field = "régime"
	fFree         field = "repas_gratuits"
	fPhoto        field = "consentement_photo" // optional: without it, consent is kept (false for a new pupil)
	// guardian fields, prefixed "responsableN_"
	gRef      field = "matricule"
	gLast     field = "nom"
	gFirst    field = "prénom"
	gEmail    field = "email"
	gPhone    field = "téléphone"
	gLanguage field = "langue"
	gRelation field = "lien"
	gAddress  field = "adresse"
)

// maxGuardians is how many responsableN_ column groups are read.
const maxGuardians = 4

var pupilAliases = map[string]field{
	"matricule": fRef, "id": fRef, "ref": fRef, "reference": fRef, "external_ref": fRef, "student_id": fRef, "pupil_id": fRef, "numero": fRef,
	"nom": fLast, "last_name": fLast, "lastname": fLast, "surname": fLast, "family_name": fLast, "nom_eleve": fLast,
	"prenom": fFirst, "first_name": fFirst, "firstname": fFirst, "given_name": fFirst, "prenom_eleve": fFirst,
	"date_naissance": fBirth, "date_de_naissance": fBirth, "naissance": fBirth, "birth_date": fBirth, "birthdate": fBirth, "date_of_birth": fBirth, "dob": fBirth,
	"classe": fClass, "class": fClass,
	"niveau": fLevel, "level": fLevel, "annee": fLevel, "grade": fLevel,
	"allergies": fAllergies, "allergenes": fAllergies, "allergens": fAllergies,
	"allergies_remarques": fAllergyNotes, "remarques_allergies": fAllergyNotes, "allergy_notes": fAllergyNotes, "notes_allergies": fAllergyNotes,
	"regime": fDiet, "regimes": fDiet, "regime_alimentaire": fDiet, "diet": fDiet,
	"repas_gratuits": fFree, "repas_gratuit": fFree, "free_meals": fFree, "free_meal": fFree, "gratuite": fFree,
	"consentement_photo": fPhoto, "photo_consent": fPhoto, "autorisation_photo": fPhoto, "droit_image": fPhoto, "droit_a_l_image": fPhoto, "photo": fPhoto,
}

var guardianAliases = map[string]field{
	"matricule": gRef, "id": gRef, "ref": gRef, "external_ref": gRef,
	"nom": gLast, "last_name": gLast, "lastname": gLast, "surname": gLast,
	"prenom": gFirst, "first_name": gFirst, "firstname": gFirst,
	"email": gEmail, "e_mail": gEmail, "courriel": gEmail, "mail": gEmail,
	"telephone": gPhone, "tel": gPhone, "phone": gPhone, "gsm": gPhone, "mobile": gPhone,
	"langue": gLanguage, "language": gLanguage, "lang": gLanguage,
	"lien": gRelation, "relation": gRelation, "relationship": gRelation, "qualite": gRelation,
	"adresse": gAddress, "address": gAddress,
}

var guardianPrefixRE = regexp.MustCompile(`^(responsable|resp|parent|guardian|tuteur)_?([1-9])_(.+)$`)

// normHeader folds a header cell: lower case, no accents, "_" for spaces
// and dashes.
func normHeader(h string) string {
	h = fold(h)
	h = strings.NewReplacer(" ", "_", "-", "_", ".", "_", "'", "_").Replace(h)
	for strings.Contains(h, "__") {
		h = strings.ReplaceAll(h, "__", "_")
	}
	return strings.Trim(h, "_")
}

// columns maps canonical fields to column indexes.
type columns struct {
	pupil     map[field]int
	guardians [maxGuardians]map[field]int
	headers   []string
}

func (c *columns) has(f field) bool { _, ok := c.pupil[f]; return ok }

func mapHeader(header []string) (*columns, []RowError, []RowError) {
	c := &columns{pupil: map[field]int{}, headers: header}
	var errs, warns []RowError
	for i := range c.guardians {
		c.guardians[i] = map[field]int{}
	}
	for i, h := range header {
		n := normHeader(h)
		if n == "" {
			continue
		}
		if f, ok := pupilAliases[n]; ok {
			if _, dup := c.pupil[f]; dup {
				errs = append(errs, RowError{Line: 1, Column: h, Reason: fmt.Sprintf("colonne %s en double", f)})
			}
			c.pupil[f] = i
			continue
		}
		if m := guardianPrefixRE.FindStringSubmatch(n); m != nil {
			k, _ := strconv.Atoi(m[2])
			if f, ok := guardianAliases[m[3]]; ok && k <= maxGuardians {
				c.guardians[k-1][f] = i
				continue
			}
		}
		warns = append(warns, RowError{Line: 1, Column: h, Reason: "colonne inconnue, ignorée"})
	}
	for _, f := range []field{fRef, fLast, fFirst} {
		if !c.has(f) {
			errs = append(errs, RowError{Line: 1, Reason: fmt.Sprintf("colonne obligatoire %q absente (en-têtes lus : %s)", string(f), strings.Join(header, ", "))})
		}
	}
	if !c.has(fClass) && !c.has(fLevel) {
		errs = append(errs, RowError{Line: 1, Reason: `il faut une colonne "classe" ou "niveau"`})
	}
	return c, errs, warns
}

// decodeText strips a UTF-8 BOM, or decodes Windows-1252 when the bytes are
// not valid UTF-8.
func decodeText(b []byte) ([]byte, string, error) {
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		b = b[3:]
		if !utf8.Valid(b) {
			return nil, "", errors.New("le fichier commence par une marque UTF-8 mais contient des octets non UTF-8")
		}
		return b, "UTF-8 (BOM)", nil
	}
	if utf8.Valid(b) {
		return b, "UTF-8", nil
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return nil, "", fmt.Errorf("ni UTF-8 ni Windows-1252 : %w", err)
	}
	return out, "Windows-1252", nil
}

// sniffDelimiter picks ';', ',' or tab by counting them on the header line
// outside quotes.
func sniffDelimiter(b []byte) rune {
	line := b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line = b[:i]
	}
	counts := map[rune]int{}
	inQuote := false
	for _, r := range string(line) {
		switch {
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ';' || r == ',' || r == '\t'):
			counts[r]++
		}
	}
	best := ';'
	for _, r := range []rune{',', '\t'} {
		if counts[r] > counts[best] {
			best = r
		}
	}
	return best
}

// parsedRow is one valid line of the file.
type parsedRow struct {
	cols      *columns
	line      int
	pupil     PupilInput
	classCode string
	guardians []parsedGuardian
}

type parsedGuardian struct {
	in       GuardianInput
	relation string
	has      map[field]bool
}

var dateLayouts = []string{"02/01/2006", "2/1/2006", "2006-01-02", "02-01-2006", "2-1-2006", "02.01.2006", "2.1.2006"}

func parseDate(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q illisible (attendu jj/mm/aaaa ou aaaa-mm-jj)", s)
}

func parseBool(s string) (bool, error) {
	switch fold(s) {
	case "", "non", "no", "n", "0", "false", "faux", "f", "-":
		return false, nil
	case "oui", "yes", "y", "o", "1", "true", "vrai", "x":
		return true, nil
	}
	return false, fmt.Errorf("%q : attendu oui ou non", s)
}

var (
	levelPrefixRE = regexp.MustCompile(`^([mps])\s*([1-6])`)
	levelSuffixRE = regexp.MustCompile(`^([1-6])\s*(?:e|er|ere|eme|de|nd|nde)?\s*([mps])`)
	levelWordRE   = regexp.MustCompile(`^([1-6])\s*(?:e|er|ere|eme|de|nd|nde)?\s*(maternelle|primaire|secondaire)`)
)

// parseLevel reads a level ("P3", "3P", "3e primaire", "1ère maternelle").
func parseLevel(s string) (string, bool) {
	f := fold(s)
	if m := levelPrefixRE.FindStringSubmatch(f); m != nil && len(f) == 2 {
		return strings.ToUpper(m[1]) + m[2], ValidLevel(strings.ToUpper(m[1]) + m[2])
	}
	if m := levelWordRE.FindStringSubmatch(f); m != nil {
		l := strings.ToUpper(m[2][:1]) + m[1]
		return l, ValidLevel(l)
	}
	if m := levelSuffixRE.FindStringSubmatch(f); m != nil && len(strings.Fields(f)) <= 2 {
		l := strings.ToUpper(m[2]) + m[1]
		return l, ValidLevel(l)
	}
	return "", false
}

// levelFromClass infers the level from a class code that starts with it
// ("P3A" → P3, "M2" → M2).
func levelFromClass(code string) (string, bool) {
	m := levelPrefixRE.FindStringSubmatch(fold(code))
	if m == nil {
		return "", false
	}
	l := strings.ToUpper(m[1]) + m[2]
	return l, ValidLevel(l)
}

func splitList(s string) []string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(",;|/+\n", r) })
	var out []string
	for _, p := range parts {
		for _, q := range strings.Split(p, " et ") {
			if q = strings.TrimSpace(q); q != "" {
				out = append(out, q)
			}
		}
	}
	return out
}

// parseRow validates one record. It never stops at the first problem.
func parseRow(c *columns, rec []string, line int) (parsedRow, []RowError, []RowError) {
	var errs, warns []RowError
	cell := func(idx int) string {
		if idx < len(rec) {
			return strings.TrimSpace(rec[idx])
		}
		return ""
	}
	get := func(f field) string {
		if i, ok := c.pupil[f]; ok {
			return cell(i)
		}
		return ""
	}
	bad := func(f field, format string, args ...any) {
		col := string(f)
		if i, ok := c.pupil[f]; ok {
			col = c.headers[i]
		}
		errs = append(errs, RowError{Line: line, Column: col, Reason: fmt.Sprintf(format, args...)})
	}
	r := parsedRow{cols: c, line: line}
	p := &r.pupil
	p.ExternalRef = get(fRef)
	p.LastName = get(fLast)
	p.FirstName = get(fFirst)
	if p.ExternalRef == "" {
		bad(fRef, "matricule vide (il sert à reconnaître l'élève lors d'un nouvel import)")
	}
	if p.LastName == "" {
		bad(fLast, "nom vide")
	}
	if p.FirstName == "" {
		bad(fFirst, "prénom vide")
	}
	if v := get(fBirth); v != "" {
		d, err := parseDate(v)
		if err != nil {
			bad(fBirth, "%v", err)
		} else if d.Year() < 1990 || d.Year() > 2100 {
			bad(fBirth, "date %s hors limites", v)
		} else {
			p.BirthDate = d
		}
	}
	r.classCode = get(fClass)
	if v := get(fLevel); v != "" {
		l, ok := parseLevel(v)
		if !ok {
			bad(fLevel, "niveau %q inconnu (attendu M1–M3, P1–P6 ou S1–S6)", v)
		}
		p.Level = l
	} else if r.classCode != "" {
		l, ok := levelFromClass(r.classCode)
		if !ok {
			bad(fClass, "impossible de déduire le niveau de la classe %q : ajoutez une colonne niveau", r.classCode)
		}
		p.Level = l
	} else {
		bad(fClass, "ni classe ni niveau")
	}
	var unknown []string
	for _, a := range splitList(get(fAllergies)) {
		if al, ok := ParseAllergen(a); ok {
			p.Allergens = append(p.Allergens, al)
		} else {
			unknown = append(unknown, a)
		}
	}
	p.AllergyNotes = get(fAllergyNotes)
	if len(unknown) > 0 {
		// Safety first: an allergy we cannot classify is kept as a note,
		// which staff screens flag.
		p.AllergyNotes = strings.TrimSpace(strings.Join(append(unknown, p.AllergyNotes), " ; "))
		warns = append(warns, RowError{Line: line, Column: string(fAllergies),
			Reason: fmt.Sprintf("allergie(s) hors des 14 allergènes UE gardée(s) en remarque : %s", strings.Join(unknown, ", "))})
	}
	for _, d := range splitList(get(fDiet)) {
		if dt, ok := ParseDiet(d); ok {
			p.Diet = append(p.Diet, dt)
		} else if al, ok := ParseAllergen(strings.TrimPrefix(fold(d), "sans ")); ok {
			p.Allergens = append(p.Allergens, al)
		} else {
			bad(fDiet, "régime %q inconnu (végétarien, végétalien, sans porc, sans bœuf, halal, casher)", d)
		}
	}
	if v := get(fFree); v != "" {
		b, err := parseBool(v)
		if err != nil {
			bad(fFree, "%v", err)
		}
		p.FreeMeals = b
	}
	if v := get(fPhoto); v != "" {
		b, err := parseBool(v)
		if err != nil {
			bad(fPhoto, "%v", err)
		}
		p.PhotoConsent = b
	}
	for k, cols := range c.guardians {
		if len(cols) == 0 {
			continue
		}
		g := parsedGuardian{has: map[field]bool{}}
		val := func(f field) string {
			if i, ok := cols[f]; ok {
				g.has[f] = true
				return cell(i)
			}
			return ""
		}
		g.in = GuardianInput{ExternalRef: val(gRef), LastName: val(gLast), FirstName: val(gFirst), Email: val(gEmail),
			Phone: val(gPhone), Language: val(gLanguage), Address: val(gAddress)}
		g.relation = val(gRelation)
		if g.in.ExternalRef == "" && g.in.LastName == "" && g.in.FirstName == "" && g.in.Email == "" && g.in.Phone == "" {
			continue // empty slot
		}
		col := fmt.Sprintf("responsable%d", k+1)
		if g.in.LastName == "" && g.in.FirstName == "" {
			errs = append(errs, RowError{Line: line, Column: col, Reason: "responsable sans nom"})
			continue
		}
		if err := g.in.normalise(); err != nil {
			errs = append(errs, RowError{Line: line, Column: col, Reason: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")})
			continue
		}
		r.guardians = append(r.guardians, g)
	}
	if len(errs) == 0 {
		if err := p.normalise(); err != nil {
			errs = append(errs, RowError{Line: line, Reason: strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")})
		}
	}
	return r, errs, warns
}

// ImportPupils reads a CSV export of pupils, classes and guardians (columns
// in docs/IMPORT.md; ';', ',' or tab; UTF-8 with or without BOM, or
// Windows-1252) and creates or updates them in one transaction: pupils are
// matched by matricule (external reference), guardians by their reference,
// then e-mail, then name among the pupil's guardians. All or nothing: when
// any row is bad, it returns *ImportError listing every problem with its
// line, and writes nothing. With DryRun it reports what would be done and
// writes nothing.
func (s *Store) ImportPupils(ctx context.Context, r io.Reader, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{DryRun: opts.DryRun}
	if opts.Actor == "" {
		opts.Actor = "system"
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 500
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxImportSize+1))
	if err != nil {
		return rep, fmt.Errorf("import: read: %w", err)
	}
	if len(raw) > MaxImportSize {
		return rep, invalid("import: file larger than %d MiB", MaxImportSize>>20)
	}
	pf, errs := parseFile(raw)
	rep.Encoding, rep.Delimiter, rep.Rows, rep.Warnings = pf.encoding, pf.delim, pf.count, pf.warnings
	if len(errs) > 0 {
		return rep, &ImportError{Rows: errs}
	}
	rows := pf.rows
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		im := importer{s: s, tx: tx, opts: opts, rep: &rep, classes: map[string]int64{}, guardians: map[int64]bool{}, total: len(rows)}
		if err := im.run(ctx, rows); err != nil {
			return err
		}
		if len(im.errs) > 0 {
			return &ImportError{Rows: im.errs}
		}
		if err := audit(ctx, tx, opts.TenantID, opts.Actor, "pupil.import", fmt.Sprint("school:", opts.SchoolID), map[string]any{
			"rows": rep.Rows, "created": rep.PupilsCreated, "updated": rep.PupilsUpdated, "guardians_created": rep.GuardiansCreated,
		}, s.now()); err != nil {
			return err
		}
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return rep, err
}

var errDryRun = errors.New("dry run")

// parsedFile is the result of the parsing stage.
type parsedFile struct {
	encoding string
	delim    rune
	rows     []parsedRow // valid rows
	count    int         // non-blank data rows
	warnings []RowError
}

// parseFile decodes, splits and validates the whole file without touching
// the database, collecting every problem.
func parseFile(raw []byte) (parsedFile, []RowError) {
	var pf parsedFile
	text, enc, err := decodeText(raw)
	if err != nil {
		return pf, []RowError{{Line: 1, Reason: err.Error()}}
	}
	pf.encoding = enc
	pf.delim = sniffDelimiter(text)
	cr := csv.NewReader(bytes.NewReader(text))
	cr.Comma = pf.delim
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return pf, []RowError{{Line: 1, Reason: "fichier vide"}}
	}
	if err != nil {
		return pf, []RowError{csvError(err)}
	}
	cols, errs, warns := mapHeader(header)
	pf.warnings = warns
	if len(errs) > 0 {
		return pf, errs
	}
	seenRef := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, csvError(err))
			break // the CSV structure is broken: later lines cannot be trusted
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		row, rerrs, rwarns := parseRow(cols, rec, line)
		if prev, dup := seenRef[row.pupil.ExternalRef]; dup && row.pupil.ExternalRef != "" {
			rerrs = append(rerrs, RowError{Line: line, Column: string(fRef), Reason: fmt.Sprintf("matricule %q déjà présent ligne %d", row.pupil.ExternalRef, prev)})
		} else {
			seenRef[row.pupil.ExternalRef] = line
		}
		errs = append(errs, rerrs...)
		pf.warnings = append(pf.warnings, rwarns...)
		if len(rerrs) == 0 {
			pf.rows = append(pf.rows, row)
		}
		pf.count++
	}
	if pf.count == 0 && len(errs) == 0 {
		errs = append(errs, RowError{Line: 2, Reason: "aucune ligne d'élève"})
	}
	return pf, errs
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

func csvError(err error) RowError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return RowError{Line: pe.Line, Reason: "CSV mal formé : " + pe.Err.Error()}
	}
	return RowError{Line: 0, Reason: err.Error()}
}

// importer writes validated rows inside one transaction.
type importer struct {
	s         *Store
	tx        pgx.Tx
	opts      ImportOptions
	rep       *ImportReport
	classes   map[string]int64 // code → id
	guardians map[int64]bool   // guardians created or already counted in this file
	errs      []RowError
	total     int
	seqs      *walletSeqs
}

func (im *importer) run(ctx context.Context, rows []parsedRow) error {
	var sid int64
	if err := im.tx.QueryRow(ctx, `SELECT id FROM schools WHERE tenant_id = $1 AND id = $2`, im.opts.TenantID, im.opts.SchoolID).Scan(&sid); err != nil {
		return mapErr(err, fmt.Sprint("import: school ", im.opts.SchoolID))
	}
	seqs, err := reserveWalletSeqs(ctx, im.tx, im.opts.TenantID, len(rows))
	if err != nil {
		return err
	}
	im.seqs = seqs
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		// A savepoint per row: a conflict is reported with its line and the
		// other rows are still checked.
		sp, err := im.tx.Begin(ctx)
		if err != nil {
			return fmt.Errorf("import: savepoint: %w", err)
		}
		if err := im.row(ctx, sp, row); err != nil {
			_ = sp.Rollback(ctx)
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("import: line %d: %w", row.line, err)
			}
			reason := err.Error()
			if errors.Is(err, ErrConflict) {
				reason = "valeur déjà utilisée par un autre enregistrement (" + reason + ")"
			}
			im.errs = append(im.errs, RowError{Line: row.line, Reason: reason})
		} else if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("import: line %d: %w", row.line, err)
		}
		if im.opts.Progress != nil && (i+1)%im.opts.ProgressEvery == 0 {
			im.opts.Progress(i+1, im.total)
		}
	}
	if im.opts.Progress != nil && len(rows)%im.opts.ProgressEvery != 0 {
		im.opts.Progress(len(rows), im.total)
	}
	return im.seqs.release(ctx, im.tx, im.opts.TenantID)
}

func (im *importer) row(ctx context.Context, tx pgx.Tx, row parsedRow) error {
	t := im.opts.TenantID
	in := row.pupil
	in.SchoolID = im.opts.SchoolID
	if row.classCode != "" {
		id, ok := im.classes[row.classCode]
		if !ok {
			var existed bool
			_ = tx.QueryRow(ctx, `SELECT true FROM classes WHERE tenant_id = $1 AND school_id = $2 AND code = $3`, t, in.SchoolID, row.classCode).Scan(&existed)
			c, err := ensureClass(ctx, tx, t, in.SchoolID, row.classCode, in.Level)
			if err != nil {
				return err
			}
			id = c.ID
			im.classes[row.classCode] = id
			if !existed {
				im.rep.ClassesCreated++
			}
		}
		in.ClassID = id
	}
	old, err := scanPupil(tx.QueryRow(ctx, `SELECT `+pupilCols+pupilFrom+` WHERE p.tenant_id = $1 AND p.external_ref = $2 FOR UPDATE OF p`, t, in.ExternalRef))
	var pupilID int64
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if pupilID, err = createPupil(ctx, tx, im.s.ledger, t, in, im.seqs, im.s.now()); err != nil {
			return err
		}
		im.rep.PupilsCreated++
	case err != nil:
		return fmt.Errorf("pupil %s: %w", in.ExternalRef, err)
	default:
		pupilID = old.ID
		merged := mergePupil(old, in, row)
		if samePupil(old, merged) {
			im.rep.PupilsUnchanged++
		} else {
			if err := updatePupil(ctx, tx, t, old.ID, merged, im.s.now()); err != nil {
				return err
			}
			im.rep.PupilsUpdated++
		}
	}
	for _, g := range row.guardians {
		gid, err := im.guardian(ctx, tx, pupilID, g)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO guardian_pupils (tenant_id, guardian_id, pupil_id, relation) VALUES ($1, $2, $3, $4)
			ON CONFLICT (tenant_id, guardian_id, pupil_id) DO NOTHING`, t, gid, pupilID, g.relation)
		if err != nil {
			return mapErr(err, "link guardian")
		}
		im.rep.LinksCreated += int(tag.RowsAffected())
		if g.relation != "" {
			if _, err := tx.Exec(ctx, `UPDATE guardian_pupils SET relation = $4 WHERE tenant_id = $1 AND guardian_id = $2 AND pupil_id = $3 AND relation <> $4`,
				t, gid, pupilID, g.relation); err != nil {
				return mapErr(err, "guardian relation")
			}
		}
	}
	return nil
}

// mergePupil keeps what the file does not say (columns absent from it).
// A pupil listed in the file is active.
func mergePupil(old Pupil, in PupilInput, row parsedRow) PupilInput {
	out := in
	out.Inactive = false
	c := row.cols
	if row.classCode == "" && old.SchoolID == in.SchoolID {
		out.ClassID = old.ClassID
	}
	if !c.has(fBirth) {
		out.BirthDate = old.BirthDate
	}
	if !c.has(fAllergies) && !c.has(fDiet) {
		out.Allergens = old.Allergens
	}
	if !c.has(fAllergies) && !c.has(fAllergyNotes) {
		out.AllergyNotes = old.AllergyNotes
	}
	if !c.has(fDiet) {
		out.Diet = old.Diet
	}
	if !c.has(fFree) {
		out.FreeMeals = old.FreeMeals
	}
	if !c.has(fPhoto) {
		out.PhotoConsent = old.PhotoConsent
	}
	return out
}

func samePupil(old Pupil, in PupilInput) bool {
	return old.SchoolID == in.SchoolID && old.ClassID == in.ClassID && old.FirstName == in.FirstName && old.LastName == in.LastName &&
		old.BirthDate.Equal(in.BirthDate) && old.Level == in.Level && slices.Equal(old.Diet, in.Diet) &&
		slices.Equal(old.Allergens, in.Allergens) && old.AllergyNotes == in.AllergyNotes && old.FreeMeals == in.FreeMeals && old.PhotoConsent == in.PhotoConsent && old.Active
}

// guardian finds or creates the guardian of a row and updates its details.
func (im *importer) guardian(ctx context.Context, tx pgx.Tx, pupilID int64, g parsedGuardian) (int64, error) {
	t := im.opts.TenantID
	var g0 Guardian
	err := pgx.ErrNoRows
	if g.in.ExternalRef != "" {
		g0, err = scanGuardian(tx.QueryRow(ctx, `SELECT `+guardianCols+` FROM guardians WHERE tenant_id = $1 AND external_ref = $2`, t, g.in.ExternalRef))
	}
	if errors.Is(err, pgx.ErrNoRows) && g.in.Email != "" {
		g0, err = scanGuardian(tx.QueryRow(ctx, `SELECT `+guardianCols+` FROM guardians WHERE tenant_id = $1 AND lower(email) = $2`, t, g.in.Email))
	}
	if errors.Is(err, pgx.ErrNoRows) {
		// Same name among the pupil's guardians: a re-import of a guardian
		// without e-mail or reference.
		g0, err = scanGuardian(tx.QueryRow(ctx, `SELECT `+guardianCols+` FROM guardians WHERE tenant_id = $1
			AND lower(first_name) = lower($2) AND lower(last_name) = lower($3)
			AND id IN (SELECT guardian_id FROM guardian_pupils WHERE tenant_id = $1 AND pupil_id = $4)
			ORDER BY id LIMIT 1`, t, g.in.FirstName, g.in.LastName, pupilID))
	}
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("guardian: %w", err)
	}
	name := strings.TrimSpace(g.in.FirstName + " " + g.in.LastName)
	if !found {
		id, err := createGuardian(ctx, tx, t, g.in)
		if err != nil {
			return 0, fmt.Errorf("responsable %s: %w", name, err)
		}
		im.rep.GuardiansCreated++
		im.guardians[id] = true
		return id, nil
	}
	// Update what the file says, keep the rest.
	up := GuardianInput{ExternalRef: g0.ExternalRef, FirstName: g0.FirstName, LastName: g0.LastName, Email: g0.Email,
		Phone: g0.Phone, Address: g0.Address, Language: g0.Language}
	set := func(f field, dst *string, v string) {
		if g.has[f] && v != "" {
			*dst = v
		}
	}
	set(gRef, &up.ExternalRef, g.in.ExternalRef)
	set(gFirst, &up.FirstName, g.in.FirstName)
	set(gLast, &up.LastName, g.in.LastName)
	set(gEmail, &up.Email, g.in.Email)
	set(gPhone, &up.Phone, g.in.Phone)
	set(gAddress, &up.Address, g.in.Address)
	if g.has[gLanguage] && g.in.Language != "" {
		up.Language = g.in.Language
	}
	if up != (GuardianInput{ExternalRef: g0.ExternalRef, FirstName: g0.FirstName, LastName: g0.LastName, Email: g0.Email,
		Phone: g0.Phone, Address: g0.Address, Language: g0.Language}) {
		if err := updateGuardian(ctx, tx, t, g0.ID, up); err != nil {
			return 0, fmt.Errorf("responsable %s: %w", name, err)
		}
		if !im.guardians[g0.ID] {
			im.rep.GuardiansUpdated++
		}
	}
	im.guardians[g0.ID] = true
	return g0.ID, nil
}
