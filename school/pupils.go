package school

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tartine/internal/policy"
	"tartine/internal/tz"
	"tartine/ledger"
	"tartine/sepa"
)

// Pupil is a child of a school. Its photo is never loaded with it (see
// PupilPhoto).
type Pupil struct {
	TenantID     int64
	ID           int64
	SchoolID     int64
	ClassID      int64 // 0: no class
	ClassCode    string
	ExternalRef  string // id in the school's software ("matricule")
	FirstName    string
	LastName     string
	BirthDate    time.Time // zero when unknown; a date (UTC midnight)
	Level        string
	Diet         []Diet
	Allergens    []Allergen
	AllergyNotes string
	HasPhoto     bool // a photo exists AND may be shown (consent)
	PhotoConsent bool
	FreeMeals    bool
	// SevereHandicap: the child has a severe handicap; its care counts on
	// the childcare tax certificate until 21 instead of 14 (taxcert).
	SevereHandicap      bool
	WalletAccountID     int64
	ReceivableAccountID int64
	WalletOGM           string // 12 digits; format with sepa.FormatOGM
	Active              bool
	// LeftAt is the day the pupil leaves or left (the first day no longer
	// at school; zero: not leaving). A date ahead: still active until then.
	LeftAt time.Time
	// Pseudonymised: the retention period passed and the pupil's personal
	// data was replaced (RetentionPass); the name reads « élève #id ».
	Pseudonymised bool
}

// DisplayName is what shared screens show: first name and initial of the
// last name ("Emma D.").
func (p Pupil) DisplayName() string { return DisplayName(p.FirstName, p.LastName) }

// DisplayName returns "First L." from a first and last name.
func DisplayName(first, last string) string {
	last = strings.TrimSpace(last)
	// "Van den Berg" gives "V.", as Belgian class lists sort it.
	r, _ := utf8.DecodeRuneInString(last)
	if r == utf8.RuneError {
		return strings.TrimSpace(first)
	}
	return strings.TrimSpace(first) + " " + strings.ToUpper(string(r)) + "."
}

// PupilInput creates or updates a pupil.
type PupilInput struct {
	SchoolID     int64
	ClassID      int64 // 0: none; must belong to SchoolID
	ExternalRef  string
	FirstName    string
	LastName     string
	BirthDate    time.Time // zero: unknown
	Level        string    // empty: the class's level
	Diet         []Diet
	Allergens    []Allergen
	AllergyNotes string
	FreeMeals    bool
	// PhotoConsent: the guardians agreed that the pupil's photo be shown
	// (canteen, daycare and kiosk screens); without it no photo is ever
	// served (PupilPhoto).
	PhotoConsent bool
	Inactive     bool // left the school
	// SevereHandicap sets Pupil.SevereHandicap; nil keeps it (false for a
	// new pupil), so that the CSV import never clears it.
	SevereHandicap *bool
}

func (in *PupilInput) normalise() error {
	in.FirstName = strings.TrimSpace(in.FirstName)
	in.LastName = strings.TrimSpace(in.LastName)
	in.ExternalRef = strings.TrimSpace(in.ExternalRef)
	if in.FirstName == "" || in.LastName == "" {
		return invalid("pupil needs a first and a last name")
	}
	if len(in.FirstName) > 100 || len(in.LastName) > 100 {
		return invalid("pupil name longer than 100 characters")
	}
	if in.Level != "" && !ValidLevel(in.Level) {
		return invalid("level %q: want M1–M3, P1–P6 or S1–S6", in.Level)
	}
	for _, d := range in.Diet {
		if !d.Valid() {
			return invalid("diet %q unknown", d)
		}
	}
	for _, a := range in.Allergens {
		if !a.Valid() {
			return invalid("allergen %q is not one of the 14 EU allergens", a)
		}
	}
	slices.Sort(in.Diet)
	in.Diet = slices.Compact(in.Diet)
	slices.Sort(in.Allergens)
	in.Allergens = slices.Compact(in.Allergens)
	if !in.BirthDate.IsZero() {
		y, m, d := in.BirthDate.Date()
		in.BirthDate = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		if y < 1990 || y > 2100 {
			return invalid("birth date %s out of range", in.BirthDate.Format("02/01/2006"))
		}
	}
	return nil
}

// resolveLevel checks the class belongs to the school and fills the level.
func resolveLevel(ctx context.Context, q querier, tenantID int64, in *PupilInput) error {
	if in.ClassID != 0 {
		var level string
		err := q.QueryRow(ctx, `SELECT level FROM classes WHERE tenant_id = $1 AND id = $2 AND school_id = $3`,
			tenantID, in.ClassID, in.SchoolID).Scan(&level)
		if err != nil {
			return mapErr(err, fmt.Sprintf("class %d of school %d", in.ClassID, in.SchoolID))
		}
		if in.Level == "" {
			in.Level = level
		}
	}
	if in.Level == "" {
		return invalid("pupil %s %s needs a level or a class", in.FirstName, in.LastName)
	}
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func nullDate(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreatePupil creates a pupil with its wallet and receivable accounts and
// its wallet OGM, in one transaction, and audits it. It returns ErrInvalid
// for bad input, ErrNotFound for a school or class not in the tenant and
// ErrConflict for a taken external reference.
func (s *Store) CreatePupil(ctx context.Context, tenantID int64, in PupilInput, actor string) (Pupil, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = createPupil(ctx, tx, s.ledger, tenantID, in, nil, s.now())
		if err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "pupil.create", fmt.Sprint("pupil:", id), nil, s.now())
	})
	if err != nil {
		return Pupil{}, err
	}
	return s.Pupil(ctx, tenantID, id)
}

// walletSeqs hands out wallet sequence numbers reserved from the tenant's
// counter (its ogm_counters row). A single creation reserves one; an
// import reserves a block, so that the counter row is updated twice per
// file rather than once per pupil (updating one row thousands of times in
// a transaction is quadratic in PostgreSQL). Numbers lost to a rolled-back
// row are never reused.
type walletSeqs struct {
	prefix     int64
	next, last int64 // next to hand out, last reserved
}

func reserveWalletSeqs(ctx context.Context, tx pgx.Tx, tenantID int64, n int) (*walletSeqs, error) {
	var prefix *int64
	var last int64
	err := tx.QueryRow(ctx, `UPDATE ogm_counters SET wallet_seq = wallet_seq + $2 WHERE tenant_id = $1 RETURNING ogm_prefix, wallet_seq`,
		tenantID, n).Scan(&prefix, &last)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, mapErr(err, fmt.Sprint("tenant ", tenantID))
	}
	if prefix == nil { // no row: no prefix (or no such tenant)
		return nil, invalid("tenant %d has no OGM prefix (create it with EnsureTenant)", tenantID)
	}
	return &walletSeqs{prefix: *prefix, next: last - int64(n) + 1, last: last}, nil
}

// release gives back the unused end of the block.
func (w *walletSeqs) release(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	_, err := tx.Exec(ctx, `UPDATE ogm_counters SET wallet_seq = $2 WHERE tenant_id = $1 AND wallet_seq = $3`, tenantID, w.next-1, w.last)
	return mapErr(err, "release wallet sequence numbers")
}

func createPupil(ctx context.Context, tx pgx.Tx, led *ledger.Ledger, tenantID int64, in PupilInput, seqs *walletSeqs, now time.Time) (int64, error) {
	if err := in.normalise(); err != nil {
		return 0, err
	}
	var settings []byte
	if err := tx.QueryRow(ctx, `SELECT settings FROM schools WHERE tenant_id = $1 AND id = $2`, tenantID, in.SchoolID).Scan(&settings); err != nil {
		return 0, mapErr(err, fmt.Sprint("school ", in.SchoolID))
	}
	pol, _ := policy.Decode(settings) // bad settings: safe defaults
	if err := resolveLevel(ctx, tx, tenantID, &in); err != nil {
		return 0, err
	}
	if seqs == nil || seqs.next > seqs.last {
		var err error
		if seqs, err = reserveWalletSeqs(ctx, tx, tenantID, 1); err != nil {
			return 0, err
		}
	}
	prefix, seq := seqs.prefix, seqs.next
	seqs.next++
	ogm, err := sepa.WalletOGM(uint64(prefix), uint64(seq))
	if err != nil {
		return 0, fmt.Errorf("pupil wallet OGM: %w", err)
	}
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO pupils (tenant_id, school_id, class_id, external_ref, first_name, last_name, birth_date, level,
			diet, allergens, allergy_notes, free_meals, active, wallet_ogm, photo_consent, left_at, severe_handicap)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, CASE WHEN $13 THEN NULL ELSE $16::date END, coalesce($17::boolean, false)) RETURNING id`,
		tenantID, in.SchoolID, nullID(in.ClassID), nullable(in.ExternalRef), in.FirstName, in.LastName, nullDate(in.BirthDate),
		in.Level, dietStrings(in.Diet), allergenStrings(in.Allergens), in.AllergyNotes, in.FreeMeals, !in.Inactive, ogm,
		in.PhotoConsent, schoolDay(now, tz.Brussels), in.SevereHandicap).Scan(&id)
	if err != nil {
		return 0, mapErr(err, "pupil "+in.FirstName+" "+in.LastName)
	}
	name := in.FirstName + " " + in.LastName
	floor := pol.Floor() // tracked, with the school's floor
	wallet, err := led.CreateAccountTx(ctx, tx, tenantID, ledger.AccountSpec{Code: WalletAccountCode(id), Name: "Portefeuille " + name,
		Type: ledger.Liability, Floor: &floor})
	if err != nil {
		return 0, mapErr(err, "wallet account")
	}
	receivable, err := led.CreateAccountTx(ctx, tx, tenantID, ledger.AccountSpec{Code: ReceivableAccountCode(id), Name: "Frais scolaires " + name,
		Type: ledger.Asset}) // untracked
	if err != nil {
		return 0, mapErr(err, "receivable account")
	}
	if _, err := tx.Exec(ctx, `UPDATE pupils SET wallet_account_id = $3, receivable_account_id = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, wallet, receivable); err != nil {
		return 0, mapErr(err, "pupil accounts")
	}
	return id, nil
}

// UpdatePupil replaces the pupil's details (not its accounts, OGM or photo)
// and audits it. Errors as CreatePupil.
func (s *Store) UpdatePupil(ctx context.Context, tenantID, id int64, in PupilInput, actor string) (Pupil, error) {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := updatePupil(ctx, tx, tenantID, id, in, s.now()); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "pupil.update", fmt.Sprint("pupil:", id), nil, s.now())
	})
	if err != nil {
		return Pupil{}, err
	}
	return s.Pupil(ctx, tenantID, id)
}

func updatePupil(ctx context.Context, tx pgx.Tx, tenantID, id int64, in PupilInput, now time.Time) error {
	if err := in.normalise(); err != nil {
		return err
	}
	if err := resolveLevel(ctx, tx, tenantID, &in); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, `
		UPDATE pupils SET school_id = $3, class_id = $4, external_ref = $5, first_name = $6, last_name = $7,
			birth_date = $8, level = $9, diet = $10, allergens = $11, allergy_notes = $12, free_meals = $13,
			photo_consent = $16, active = $14, severe_handicap = coalesce($17::boolean, severe_handicap),
			left_at = CASE WHEN $14 THEN (CASE WHEN left_at > $15::date THEN left_at END) ELSE coalesce(left_at, $15::date) END
		WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, in.SchoolID, nullID(in.ClassID), nullable(in.ExternalRef), in.FirstName, in.LastName,
		nullDate(in.BirthDate), in.Level, dietStrings(in.Diet), allergenStrings(in.Allergens), in.AllergyNotes,
		in.FreeMeals, !in.Inactive, schoolDay(now, tz.Brussels), in.PhotoConsent, in.SevereHandicap)
	if err != nil {
		return mapErr(err, fmt.Sprint("pupil ", id))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pupil %d: %w", id, ErrNotFound)
	}
	// The pupil's name or presence may have changed: re-send its badges to
	// the bridges' offline caches.
	if err := badgeLock(ctx, tx, tenantID); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE badges SET change_seq = nextval('badge_change_seq') WHERE tenant_id = $1 AND pupil_id = $2`, tenantID, id)
	return mapErr(err, "pupil badges")
}

func dietStrings(d []Diet) []string {
	out := make([]string, len(d))
	for i, x := range d {
		out[i] = string(x)
	}
	return out
}

func allergenStrings(a []Allergen) []string {
	out := make([]string, len(a))
	for i, x := range a {
		out[i] = string(x)
	}
	return out
}

const pupilCols = `p.tenant_id, p.id, p.school_id, coalesce(p.class_id, 0), coalesce(c.code, ''), coalesce(p.external_ref, ''),
	p.first_name, p.last_name, p.birth_date, p.level, p.diet, p.allergens, p.allergy_notes,
	(p.photo IS NOT NULL AND p.photo_consent), p.photo_consent, p.free_meals,
	coalesce(p.wallet_account_id, 0), coalesce(p.receivable_account_id, 0), coalesce(p.wallet_ogm, ''), p.active,
	p.left_at, p.pseudonymised_at IS NOT NULL, p.severe_handicap`

const pupilFrom = ` FROM pupils p LEFT JOIN classes c ON c.tenant_id = p.tenant_id AND c.id = p.class_id `

func scanPupil(row pgx.Row) (Pupil, error) {
	var p Pupil
	var birth, left *time.Time
	var diet, allergens []string
	err := row.Scan(&p.TenantID, &p.ID, &p.SchoolID, &p.ClassID, &p.ClassCode, &p.ExternalRef, &p.FirstName, &p.LastName,
		&birth, &p.Level, &diet, &allergens, &p.AllergyNotes, &p.HasPhoto, &p.PhotoConsent, &p.FreeMeals,
		&p.WalletAccountID, &p.ReceivableAccountID, &p.WalletOGM, &p.Active, &left, &p.Pseudonymised, &p.SevereHandicap)
	if err != nil {
		return Pupil{}, err
	}
	if left != nil {
		p.LeftAt = *left
	}
	if birth != nil {
		p.BirthDate = *birth
	}
	for _, d := range diet {
		p.Diet = append(p.Diet, Diet(d))
	}
	for _, a := range allergens {
		p.Allergens = append(p.Allergens, Allergen(a))
	}
	return p, nil
}

func collectPupils(rows pgx.Rows, err error) ([]Pupil, error) {
	if err != nil {
		return nil, fmt.Errorf("pupils: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Pupil, error) { return scanPupil(r) })
	if err != nil {
		return nil, fmt.Errorf("pupils: %w", err)
	}
	return ps, nil
}

// Pupil returns the tenant's pupil with this id, or ErrNotFound.
func (s *Store) Pupil(ctx context.Context, tenantID, id int64) (Pupil, error) {
	return ReadPupil(ctx, s.pool, tenantID, id)
}

// PupilByExternalRef returns the pupil with this reference ("matricule"),
// or ErrNotFound.
func (s *Store) PupilByExternalRef(ctx context.Context, tenantID int64, ref string) (Pupil, error) {
	p, err := scanPupil(s.pool.QueryRow(ctx, `SELECT `+pupilCols+pupilFrom+` WHERE p.tenant_id = $1 AND p.external_ref = $2`, tenantID, ref))
	return p, mapErr(err, "pupil "+ref)
}

// PupilByOGM returns the pupil whose wallet has this structured
// communication (any form sepa.ParseOGM accepts), or ErrNotFound.
func (s *Store) PupilByOGM(ctx context.Context, tenantID int64, ogm string) (Pupil, error) {
	d, err := sepa.ParseOGM(ogm)
	if err != nil {
		return Pupil{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	p, err := scanPupil(s.pool.QueryRow(ctx, `SELECT `+pupilCols+pupilFrom+` WHERE p.tenant_id = $1 AND p.wallet_ogm = $2`, tenantID, d))
	return p, mapErr(err, "pupil with OGM "+d)
}

// PupilsOfSchool returns the school's pupils (active only unless all), by
// class, last name and first name.
func (s *Store) PupilsOfSchool(ctx context.Context, tenantID, schoolID int64, all bool) ([]Pupil, error) {
	return PupilsOfSchoolIn(ctx, s.pool, tenantID, schoolID, all)
}

// SearchPupils finds active pupils whose first or last name starts with
// each word of query (case-insensitive), at most limit (20 when ≤ 0).
func (s *Store) SearchPupils(ctx context.Context, tenantID int64, query string, limit int) ([]Pupil, error) {
	return s.SearchPupilsIn(ctx, tenantID, 0, query, limit)
}

// SearchPupilsIn is SearchPupils within one school (schoolID 0: every
// school of the tenant). Staff bound to a school search with their school:
// the pupils of another school are strangers to them.
func (s *Store) SearchPupilsIn(ctx context.Context, tenantID, schoolID int64, query string, limit int) ([]Pupil, error) {
	if limit <= 0 {
		limit = 20
	}
	words := strings.Fields(strings.ToLower(query))
	if len(words) == 0 {
		return nil, nil
	}
	patterns := make([]string, len(words))
	for i, w := range words {
		patterns[i] = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(w) + "%"
	}
	return collectPupils(s.pool.Query(ctx, `SELECT `+pupilCols+pupilFrom+`
		WHERE p.tenant_id = $1 AND p.active AND ($4::bigint = 0 OR p.school_id = $4)
		  AND (SELECT bool_and(lower(p.first_name) LIKE w OR lower(p.last_name) LIKE w) FROM unnest($2::text[]) w)
		ORDER BY lower(p.last_name), lower(p.first_name), p.id LIMIT $3`, tenantID, patterns, limit, schoolID))
}

// SetPhoto stores (or with nil removes) the pupil's photo and its consent
// flag, and audits it.
func (s *Store) SetPhoto(ctx context.Context, tenantID, pupilID int64, photo []byte, consent bool, actor string) error {
	if len(photo) > 2<<20 {
		return invalid("photo larger than 2 MiB")
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE pupils SET photo = $3, photo_consent = $4 WHERE tenant_id = $1 AND id = $2`,
			tenantID, pupilID, photo, consent)
		if err != nil {
			return mapErr(err, "pupil photo")
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("pupil %d: %w", pupilID, ErrNotFound)
		}
		return audit(ctx, tx, tenantID, actor, "pupil.photo", fmt.Sprint("pupil:", pupilID),
			map[string]any{"photo": photo != nil, "consent": consent}, s.now())
	})
}

// PupilPhoto returns the pupil's photo. It returns ErrNoPhoto when there is
// none or its consent flag is off (a photo is never shown without consent),
// ErrNotFound for an unknown pupil.
func (s *Store) PupilPhoto(ctx context.Context, tenantID, pupilID int64) ([]byte, error) {
	var photo []byte
	var consent bool
	err := s.pool.QueryRow(ctx, `SELECT photo, photo_consent FROM pupils WHERE tenant_id = $1 AND id = $2`, tenantID, pupilID).Scan(&photo, &consent)
	if err != nil {
		return nil, mapErr(err, fmt.Sprint("pupil ", pupilID))
	}
	if photo == nil || !consent {
		return nil, fmt.Errorf("pupil %d: %w", pupilID, ErrNoPhoto)
	}
	return photo, nil
}
