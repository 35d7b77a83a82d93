package school

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Tech is a badge technology.
type Tech string

// Badge technologies.
const (
	TechEM4100    Tech = "em4100"    // 125 kHz, 5-byte id: 10 hex digits
	TechISO14443A Tech = "iso14443a" // 13.56 MHz (MIFARE): 4, 7 or 10-byte UID
	TechQR        Tech = "qr"        // printed QR code carrying a random token
	TechWiegand   Tech = "wiegand"   // Wiegand card number, as hex
)

// BadgeStatus is the state of a badge.
type BadgeStatus string

// Badge statuses.
const (
	BadgeActive   BadgeStatus = "active"
	BadgeLost     BadgeStatus = "lost"
	BadgeBlocked  BadgeStatus = "blocked"
	BadgeReturned BadgeStatus = "returned"
)

func (s BadgeStatus) valid() bool {
	return s == BadgeActive || s == BadgeLost || s == BadgeBlocked || s == BadgeReturned
}

// Badge is a physical (or printed) badge.
type Badge struct {
	TenantID      int64
	ID            int64
	UID           string
	Tech          Tech
	PrintedNumber string
	PupilID       int64 // 0: not assigned
	Status        BadgeStatus
	ChangeSeq     int64
	UpdatedAt     time.Time
}

// CanonicalUID returns the canonical form of a badge id for its technology:
// upper-case hex without separators (10 digits for EM4100; 8, 14 or 20 for
// ISO 14443-A), or for QR the upper-case token (16 to 64 letters and
// digits). It returns ErrInvalid otherwise.
func CanonicalUID(uid string, tech Tech) (string, error) {
	u := strings.ToUpper(strings.NewReplacer(" ", "", ":", "", "-", "").Replace(strings.TrimSpace(uid)))
	isHex := func() bool {
		for _, r := range u {
			if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
				return false
			}
		}
		return u != ""
	}
	switch tech {
	case TechEM4100:
		if len(u) == 10 && isHex() {
			return u, nil
		}
		return "", invalid("EM4100 badge id %q: want 10 hexadecimal digits", uid)
	case TechISO14443A:
		if (len(u) == 8 || len(u) == 14 || len(u) == 20) && isHex() {
			return u, nil
		}
		return "", invalid("ISO 14443-A badge id %q: want 8, 14 or 20 hexadecimal digits", uid)
	case TechWiegand:
		if len(u) >= 2 && len(u) <= 16 && isHex() {
			return u, nil
		}
		return "", invalid("Wiegand badge id %q: want 2 to 16 hexadecimal digits", uid)
	case TechQR:
		if len(u) < 16 || len(u) > 64 {
			return "", invalid("QR badge token %q: want 16 to 64 characters", uid)
		}
		for _, r := range u {
			if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
				return "", invalid("QR badge token %q: letters and digits only", uid)
			}
		}
		return u, nil
	}
	return "", invalid("badge technology %q: want em4100, iso14443a, qr or wiegand", tech)
}

// derivedNumber is the ten digits a decimal reader prints for a badge
// whose printed number was not given: the decimal of the last four bytes
// of its uid (of all of them for a 3-byte Wiegand id), as printed on
// EM4100 fobs. A tap that carries these digits then finds the badge by its
// printed number. Empty for QR tokens and uids longer than five bytes.
func derivedNumber(uid string, tech Tech) string {
	if tech == TechQR || len(uid) < 6 || len(uid) > 10 || len(uid)%2 != 0 {
		return ""
	}
	v, err := strconv.ParseUint(uid[max(0, len(uid)-8):], 16, 32)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%010d", v)
}

// NewQRToken returns an unguessable QR badge token: 128 random bits in
// upper-case base32 without padding (26 characters).
func NewQRToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("qr token: %w", err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// BadgeInput registers a badge.
type BadgeInput struct {
	UID           string
	Tech          Tech
	PrintedNumber string // EM4100: the number printed on the fob; empty: derived from a 3- to 5-byte uid (see derivedNumber)
	PupilID       int64  // 0: in stock, not assigned
}

// badgeLock serialises a tenant's badge changes until commit so that
// change_seq order is commit order and BadgesSince never skips a change.
func badgeLock(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tartine.badges'), $1::int4)`, tenantID)
	if err != nil {
		return fmt.Errorf("badge lock: %w", err)
	}
	return nil
}

func history(ctx context.Context, tx pgx.Tx, tenantID, badgeID, pupilID int64, status BadgeStatus, actor string, at time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO badge_assignments (tenant_id, badge_id, pupil_id, status, actor, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		tenantID, badgeID, nullID(pupilID), string(status), actor, at)
	return mapErr(err, "badge history")
}

// CreateBadge registers a badge (assigned to in.PupilID when set), records
// it in the badge's history and audits it. It returns ErrInvalid for a bad
// uid, ErrConflict when the uid is taken, ErrNotFound for a pupil not in the
// tenant.
func (s *Store) CreateBadge(ctx context.Context, tenantID int64, in BadgeInput, actor string) (Badge, error) {
	uid, err := CanonicalUID(in.UID, in.Tech)
	if err != nil {
		return Badge{}, err
	}
	printed := strings.TrimSpace(in.PrintedNumber)
	if len(printed) > 20 {
		return Badge{}, invalid("printed number %q longer than 20 characters", printed)
	}
	if printed == "" {
		printed = derivedNumber(uid, in.Tech)
	}
	var id int64
	now := s.now()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := badgeLock(ctx, tx, tenantID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO badges (tenant_id, uid, tech, printed_number, pupil_id, status, updated_at, change_seq)
			VALUES ($1, $2, $3, $4, $5, 'active', $6, nextval('badge_change_seq')) RETURNING id`,
			tenantID, uid, string(in.Tech), printed, nullID(in.PupilID), now).Scan(&id)
		if err != nil {
			return mapErr(err, "badge "+uid)
		}
		if err := history(ctx, tx, tenantID, id, in.PupilID, BadgeActive, actor, now); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "badge.create", fmt.Sprint("badge:", id), map[string]any{"uid": uid, "pupil": in.PupilID}, now)
	})
	if err != nil {
		return Badge{}, err
	}
	return s.Badge(ctx, tenantID, id)
}

// NewQRBadge creates a QR badge with a fresh random token for the pupil.
func (s *Store) NewQRBadge(ctx context.Context, tenantID, pupilID int64, actor string) (Badge, error) {
	tok, err := NewQRToken()
	if err != nil {
		return Badge{}, err
	}
	return s.CreateBadge(ctx, tenantID, BadgeInput{UID: tok, Tech: TechQR, PupilID: pupilID}, actor)
}

// changeBadge updates a badge's pupil and status under the badge lock,
// bumping its change_seq and recording history and audit.
func (s *Store) changeBadge(ctx context.Context, tenantID, badgeID, pupilID int64, status BadgeStatus, actor, action string) (Badge, error) {
	now := s.now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := badgeLock(ctx, tx, tenantID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE badges SET pupil_id = $3, status = $4, updated_at = $5, change_seq = nextval('badge_change_seq')
			WHERE tenant_id = $1 AND id = $2`, tenantID, badgeID, nullID(pupilID), string(status), now)
		if err != nil {
			return mapErr(err, fmt.Sprint("badge ", badgeID))
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("badge %d: %w", badgeID, ErrNotFound)
		}
		if err := history(ctx, tx, tenantID, badgeID, pupilID, status, actor, now); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, action, fmt.Sprint("badge:", badgeID), map[string]any{"pupil": pupilID, "status": status}, now)
	})
	if err != nil {
		return Badge{}, err
	}
	return s.Badge(ctx, tenantID, badgeID)
}

// AssignBadge gives the badge to the pupil and makes it active. It returns
// ErrNotFound when the badge or pupil is not in the tenant.
func (s *Store) AssignBadge(ctx context.Context, tenantID, badgeID, pupilID int64, actor string) (Badge, error) {
	if pupilID == 0 {
		return Badge{}, invalid("assign badge %d: no pupil", badgeID)
	}
	return s.changeBadge(ctx, tenantID, badgeID, pupilID, BadgeActive, actor, "badge.assign")
}

// Assignment is a badge given to a pupil by a member of staff whose
// scope is SchoolID (0: every school of the tenant).
type Assignment struct {
	BadgeID  int64
	PupilID  int64
	SchoolID int64 // the actor's school; 0: every school
	// Holder is the pupil the actor confirmed taking the badge from (0:
	// none). A badge that belongs to someone else is only reassigned when
	// Holder names that pupil.
	Holder int64
}

// HolderError refuses to take a badge from its current holder without a
// confirmation naming that holder (Assignment.Holder).
type HolderError struct {
	Holder Pupil
}

func (e *HolderError) Error() string {
	return fmt.Sprintf("badge belongs to pupil %d (%s): confirm to reassign", e.Holder.ID, e.Holder.DisplayName())
}

// AssignBadgeAs gives the badge to the pupil within the actor's school
// scope and makes it active. It returns ErrNotFound when the badge or
// pupil is not in the tenant, ErrOtherSchool when the pupil or the badge's
// current holder belongs to a school outside a.SchoolID, and a *HolderError
// when the badge belongs to another pupil and a.Holder does not name them.
// The checks and the change happen under the tenant's badge lock.
func (s *Store) AssignBadgeAs(ctx context.Context, tenantID int64, a Assignment, actor string) (Badge, error) {
	if a.PupilID == 0 {
		return Badge{}, invalid("assign badge %d: no pupil", a.BadgeID)
	}
	now := s.now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := badgeLock(ctx, tx, tenantID); err != nil {
			return err
		}
		var pupilSchool int64
		err := tx.QueryRow(ctx, `SELECT school_id FROM pupils WHERE tenant_id = $1 AND id = $2`, tenantID, a.PupilID).Scan(&pupilSchool)
		if err != nil {
			return mapErr(err, fmt.Sprint("pupil ", a.PupilID))
		}
		if a.SchoolID != 0 && pupilSchool != a.SchoolID {
			return fmt.Errorf("pupil %d: %w", a.PupilID, ErrOtherSchool)
		}
		var holder int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(pupil_id, 0) FROM badges WHERE tenant_id = $1 AND id = $2`, tenantID, a.BadgeID).Scan(&holder); err != nil {
			return mapErr(err, fmt.Sprint("badge ", a.BadgeID))
		}
		if holder != 0 && holder != a.PupilID {
			h, err := scanPupil(tx.QueryRow(ctx, `SELECT `+pupilCols+pupilFrom+` WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, holder))
			if err != nil {
				return mapErr(err, fmt.Sprint("pupil ", holder))
			}
			if a.SchoolID != 0 && h.SchoolID != a.SchoolID {
				return fmt.Errorf("badge %d: holder: %w", a.BadgeID, ErrOtherSchool)
			}
			if a.Holder != holder {
				return &HolderError{Holder: h}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE badges SET pupil_id = $3, status = 'active', updated_at = $4, change_seq = nextval('badge_change_seq')
			WHERE tenant_id = $1 AND id = $2`, tenantID, a.BadgeID, a.PupilID, now); err != nil {
			return mapErr(err, fmt.Sprint("badge ", a.BadgeID))
		}
		if err := history(ctx, tx, tenantID, a.BadgeID, a.PupilID, BadgeActive, actor, now); err != nil {
			return err
		}
		return audit(ctx, tx, tenantID, actor, "badge.assign", fmt.Sprint("badge:", a.BadgeID),
			map[string]any{"pupil": a.PupilID, "status": BadgeActive, "from": holder}, now)
	})
	if err != nil {
		return Badge{}, err
	}
	return s.Badge(ctx, tenantID, a.BadgeID)
}

// UnassignBadge takes the badge back from its pupil (status returned).
func (s *Store) UnassignBadge(ctx context.Context, tenantID, badgeID int64, actor string) (Badge, error) {
	return s.changeBadge(ctx, tenantID, badgeID, 0, BadgeReturned, actor, "badge.unassign")
}

// SetBadgeStatus changes the badge's status (active, lost, blocked,
// returned), keeping its pupil except for returned.
func (s *Store) SetBadgeStatus(ctx context.Context, tenantID, badgeID int64, status BadgeStatus, actor string) (Badge, error) {
	if !status.valid() {
		return Badge{}, invalid("badge status %q: want active, lost, blocked or returned", status)
	}
	b, err := s.Badge(ctx, tenantID, badgeID)
	if err != nil {
		return Badge{}, err
	}
	pupil := b.PupilID
	if status == BadgeReturned {
		pupil = 0
	}
	return s.changeBadge(ctx, tenantID, badgeID, pupil, status, actor, "badge.status")
}

const badgeCols = `tenant_id, id, uid, tech, printed_number, coalesce(pupil_id, 0), status, change_seq, updated_at`

func scanBadge(row pgx.Row) (Badge, error) {
	var b Badge
	err := row.Scan(&b.TenantID, &b.ID, &b.UID, &b.Tech, &b.PrintedNumber, &b.PupilID, &b.Status, &b.ChangeSeq, &b.UpdatedAt)
	return b, err
}

// Badge returns the tenant's badge with this id, or ErrNotFound.
func (s *Store) Badge(ctx context.Context, tenantID, id int64) (Badge, error) {
	b, err := scanBadge(s.pool.QueryRow(ctx, `SELECT `+badgeCols+` FROM badges WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return b, mapErr(err, fmt.Sprint("badge ", id))
}

// BadgeByPrintedNumber returns the badge whose printed number (EM4100 fob)
// is this, or ErrNotFound.
func (s *Store) BadgeByPrintedNumber(ctx context.Context, tenantID int64, printed string) (Badge, error) {
	b, err := scanBadge(s.pool.QueryRow(ctx, `SELECT `+badgeCols+` FROM badges WHERE tenant_id = $1 AND printed_number = $2 AND printed_number <> ''
		ORDER BY id DESC LIMIT 1`, tenantID, strings.TrimSpace(printed)))
	return b, mapErr(err, "badge number "+printed)
}

// BadgesOfPupil returns the badges currently assigned to the pupil.
func (s *Store) BadgesOfPupil(ctx context.Context, tenantID, pupilID int64) ([]Badge, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+badgeCols+` FROM badges WHERE tenant_id = $1 AND pupil_id = $2 ORDER BY id`, tenantID, pupilID)
	if err != nil {
		return nil, fmt.Errorf("badges of pupil %d: %w", pupilID, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Badge, error) { return scanBadge(r) })
}

// ChangedBadge is a badge changed after a cursor, with its pupil if it has
// one (ChangedBadges).
type ChangedBadge struct {
	UID         string
	Status      BadgeStatus
	Seq         int64 // the badge's change_seq: the cursor after this badge
	PupilID     int64 // 0: assigned to no pupil
	SchoolID    int64 // the pupil's school
	FirstName   string
	LastName    string
	PupilActive bool
}

// ChangedBadges returns the tenant's badges whose change sequence is above
// since, in change order, at most limit of them: the rows of a badge delta
// (the device API's, BadgesSince). Changes commit in change_seq order (see
// badgeLock), so a cursor never skips one.
func (s *Store) ChangedBadges(ctx context.Context, tenantID, since int64, limit int) ([]ChangedBadge, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT b.uid, b.status, b.change_seq, coalesce(p.id, 0), coalesce(p.school_id, 0),
			coalesce(p.first_name, ''), coalesce(p.last_name, ''), coalesce(p.active, false)
		FROM badges b LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id
		WHERE b.tenant_id = $1 AND b.change_seq > $2 ORDER BY b.change_seq LIMIT $3`, tenantID, since, limit)
	if err != nil {
		return nil, fmt.Errorf("badges changed since %d: %w", since, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ChangedBadge, error) {
		var c ChangedBadge
		return c, r.Scan(&c.UID, &c.Status, &c.Seq, &c.PupilID, &c.SchoolID, &c.FirstName, &c.LastName, &c.PupilActive)
	})
}

// BadgeEvent is one entry of a badge's history.
type BadgeEvent struct {
	PupilID int64
	Status  BadgeStatus
	Actor   string
	At      time.Time
}

// BadgeHistory returns the badge's assignments and status changes, oldest
// first.
func (s *Store) BadgeHistory(ctx context.Context, tenantID, badgeID int64) ([]BadgeEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT coalesce(pupil_id, 0), status, actor, at FROM badge_assignments
		WHERE tenant_id = $1 AND badge_id = $2 ORDER BY id`, tenantID, badgeID)
	if err != nil {
		return nil, fmt.Errorf("badge history: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (BadgeEvent, error) {
		var e BadgeEvent
		err := r.Scan(&e.PupilID, &e.Status, &e.Actor, &e.At)
		return e, err
	})
}

// BadgeInfo is what the terminal needs on a tap: the badge and its pupil's
// display data. Pupil fields are zero when the badge is not assigned.
type BadgeInfo struct {
	Badge
	SchoolID        int64
	FirstName       string
	DisplayName     string // "Emma D."
	ClassCode       string
	Level           string
	Diet            []Diet
	Allergens       []Allergen
	AllergyNotes    bool // free-text allergy notes exist
	HasPhoto        bool // photo present and consented
	WalletAccountID int64
	FreeMeals       bool
	PupilActive     bool
}

// Flags returns the display flags of the device API: "allergy:<a>" for each
// allergen, "allergy:notes" when there are notes, "diet:<d>" for each diet.
func (b BadgeInfo) Flags() []string {
	var f []string
	for _, a := range b.Allergens {
		f = append(f, "allergy:"+string(a))
	}
	if b.AllergyNotes {
		f = append(f, "allergy:notes")
	}
	for _, d := range b.Diet {
		f = append(f, "diet:"+string(d))
	}
	return f
}

// BadgeByUID returns the badge with this canonical uid and its pupil's
// display data, in one query. It returns ErrNotFound for an unknown uid (or
// one of another tenant).
func (s *Store) BadgeByUID(ctx context.Context, tenantID int64, uid string) (BadgeInfo, error) {
	var bi BadgeInfo
	var first, last, class, level *string
	var diet, allergens []string
	var school, wallet *int64
	var notes, photo, free, active *bool
	err := s.pool.QueryRow(ctx, `
		SELECT b.tenant_id, b.id, b.uid, b.tech, b.printed_number, coalesce(b.pupil_id, 0), b.status, b.change_seq, b.updated_at,
			p.school_id, p.first_name, p.last_name, c.code, p.level, p.diet, p.allergens, p.allergy_notes <> '',
			p.photo IS NOT NULL AND p.photo_consent, p.wallet_account_id, p.free_meals, p.active
		FROM badges b
		LEFT JOIN pupils p ON p.tenant_id = b.tenant_id AND p.id = b.pupil_id
		LEFT JOIN classes c ON c.tenant_id = p.tenant_id AND c.id = p.class_id
		WHERE b.tenant_id = $1 AND b.uid = $2`, tenantID, uid).Scan(
		&bi.TenantID, &bi.ID, &bi.UID, &bi.Tech, &bi.PrintedNumber, &bi.PupilID, &bi.Status, &bi.ChangeSeq, &bi.UpdatedAt,
		&school, &first, &last, &class, &level, &diet, &allergens, &notes, &photo, &wallet, &free, &active)
	if err != nil {
		return BadgeInfo{}, mapErr(err, "badge "+uid)
	}
	if first != nil {
		bi.SchoolID = deref(school)
		bi.FirstName = *first
		bi.DisplayName = DisplayName(*first, deref(last))
		bi.ClassCode = deref(class)
		bi.Level = deref(level)
		for _, d := range diet {
			bi.Diet = append(bi.Diet, Diet(d))
		}
		for _, a := range allergens {
			bi.Allergens = append(bi.Allergens, Allergen(a))
		}
		bi.AllergyNotes, bi.HasPhoto, bi.FreeMeals, bi.PupilActive = deref(notes), deref(photo), deref(free), deref(active)
		bi.WalletAccountID = deref(wallet)
	}
	return bi, nil
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// Offline statuses of a badge delta (the bridge's cache).
const (
	DeltaActive  = "active"  // assigned to an active pupil: accept offline
	DeltaBlocked = "blocked" // blocked or lost: refuse offline
	DeltaRemoved = "removed" // returned, unassigned or pupil gone: drop from the cache
)

// BadgeChange is one entry of a badge delta.
type BadgeChange struct {
	UID    string
	Status string // DeltaActive, DeltaBlocked or DeltaRemoved
	Name   string // pupil display name ("Emma D."); empty when removed
}

// BadgeDelta is the answer to BadgesSince.
type BadgeDelta struct {
	Badges []BadgeChange
	Cursor int64 // pass it back next time
	More   bool  // more changes wait: ask again at once
}

// BadgesSince returns the tenant's badges changed after cursor (0: all),
// oldest change first, at most limit (1000 when ≤ 0). Lost badges are
// reported blocked; returned or unassigned badges, and badges of pupils who
// left, removed (left out when cursor is 0). The device API's delta
// (terminal) reads the same rows (ChangedBadges) with its own rules.
func (s *Store) BadgesSince(ctx context.Context, tenantID, cursor int64, limit int) (BadgeDelta, error) {
	if limit <= 0 {
		limit = 1000
	}
	list, err := s.ChangedBadges(ctx, tenantID, cursor, limit+1)
	if err != nil {
		return BadgeDelta{}, err
	}
	d := BadgeDelta{Cursor: cursor}
	if len(list) > limit {
		d.More, list = true, list[:limit]
	}
	for _, x := range list {
		d.Cursor = x.Seq
		c := BadgeChange{UID: x.UID, Status: DeltaRemoved}
		if x.PupilID != 0 && x.PupilActive {
			switch x.Status {
			case BadgeActive:
				c.Status = DeltaActive
			case BadgeBlocked, BadgeLost:
				c.Status = DeltaBlocked
			}
			if c.Status != DeltaRemoved {
				c.Name = DisplayName(x.FirstName, x.LastName)
			}
		}
		if c.Status == DeltaRemoved && cursor == 0 {
			continue
		}
		d.Badges = append(d.Badges, c)
	}
	return d, nil
}
