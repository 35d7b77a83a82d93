package school

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tartine/internal/password"
)

// Role is a staff role.
type Role string

// Staff roles.
const (
	RoleAdmin      Role = "admin"
	RoleCanteen    Role = "canteen"
	RoleDaycare    Role = "daycare"
	RoleKiosk      Role = "kiosk"
	RoleAccountant Role = "accountant"
)

// Roles returns every staff role.
func Roles() []Role { return []Role{RoleAdmin, RoleCanteen, RoleDaycare, RoleKiosk, RoleAccountant} }

// StaffUser is a member of staff who logs in to the back office and
// station screens.
type StaffUser struct {
	TenantID int64
	ID       int64
	Login    string
	Name     string
	Roles    []Role
	SchoolID int64 // 0: every school of the tenant
	Active   bool
}

// Has reports whether the user holds role r exactly.
func (u StaffUser) Has(r Role) bool { return slices.Contains(u.Roles, r) }

// Can reports whether the user may act as r: holds r, or is admin.
func (u StaffUser) Can(r Role) bool { return u.Has(r) || u.Has(RoleAdmin) }

// Actor is the user's audit actor, "staff:<id>".
func (u StaffUser) Actor() string { return fmt.Sprint("staff:", u.ID) }

// StaffInput creates a staff user.
type StaffInput struct {
	Login    string
	Name     string
	Password string // CheckPassword: at least 8 characters, not common
	Roles    []Role
	SchoolID int64 // 0: every school
}

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 8

func checkRoles(roles []Role) error {
	if len(roles) == 0 {
		return invalid("a staff user needs at least one role")
	}
	for _, r := range roles {
		if !slices.Contains(Roles(), r) {
			return invalid("role %q: want admin, canteen, daycare, kiosk or accountant", r)
		}
	}
	return nil
}

func roleStrings(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// CreateStaff creates a staff user with an argon2id password hash. Logins
// are unique across tenants (case-insensitive). It returns ErrInvalid for a
// bad login, short password or unknown role, ErrConflict for a taken login.
func (s *Store) CreateStaff(ctx context.Context, tenantID int64, in StaffInput, actor string) (StaffUser, error) {
	in.Login = strings.ToLower(strings.TrimSpace(in.Login))
	if !codeRE.MatchString(in.Login) {
		return StaffUser{}, invalid("login %q: letters, digits, '-', '_' or '.', at most 40", in.Login)
	}
	if err := CheckPassword(in.Password); err != nil {
		return StaffUser{}, err
	}
	if err := checkRoles(in.Roles); err != nil {
		return StaffUser{}, err
	}
	if strings.TrimSpace(in.Name) == "" {
		in.Name = in.Login
	}
	hash, err := password.Hash(in.Password)
	if err != nil {
		return StaffUser{}, err
	}
	var id int64
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO staff_users (tenant_id, login, name, password_hash, roles, school_id)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			tenantID, in.Login, in.Name, hash, roleStrings(in.Roles), nullID(in.SchoolID)).Scan(&id)
		if err != nil {
			return mapErr(err, "staff "+in.Login)
		}
		return audit(ctx, tx, tenantID, actor, "staff.create", fmt.Sprint("staff:", id), map[string]any{"login": in.Login, "roles": in.Roles}, s.now())
	})
	if err != nil {
		return StaffUser{}, err
	}
	return s.StaffUser(ctx, tenantID, id)
}

// SetStaffPassword replaces the user's password.
func (s *Store) SetStaffPassword(ctx context.Context, tenantID, userID int64, pw, actor string) error {
	if err := CheckPassword(pw); err != nil {
		return err
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE staff_users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, userID, hash)
		if err != nil {
			return mapErr(err, "staff password")
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("staff %d: %w", userID, ErrNotFound)
		}
		return audit(ctx, tx, tenantID, actor, "staff.password", fmt.Sprint("staff:", userID), nil, s.now())
	})
}

// SetStaffActive enables or disables the user (a disabled user cannot log
// in). Disabling the tenant's last active admin is ErrInvalid.
func (s *Store) SetStaffActive(ctx context.Context, tenantID, userID int64, active bool, actor string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		was, err := wasActiveAdmin(ctx, tx, tenantID, userID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET active = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, userID, active); err != nil {
			return mapErr(err, "staff active")
		}
		if was && !active {
			if err := keepAnAdmin(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenantID, actor, "staff.active", fmt.Sprint("staff:", userID), map[string]any{"active": active}, s.now())
	})
}

// SetStaffRoles replaces the user's roles. The tenant keeps at least one
// active admin: removing the last one's admin role is ErrInvalid.
func (s *Store) SetStaffRoles(ctx context.Context, tenantID, userID int64, roles []Role, actor string) error {
	if err := checkRoles(roles); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		was, err := wasActiveAdmin(ctx, tx, tenantID, userID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET roles = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, userID, roleStrings(roles)); err != nil {
			return mapErr(err, "staff roles")
		}
		if was && !slices.Contains(roles, RoleAdmin) {
			if err := keepAnAdmin(ctx, tx, tenantID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenantID, actor, "staff.roles", fmt.Sprint("staff:", userID), map[string]any{"roles": roles}, s.now())
	})
}

// StaffNameMax is the longest staff display name accepted, in characters.
const StaffNameMax = 100

// StaffProfile is what UpdateStaff changes: the display name and the
// school the member is bound to.
type StaffProfile struct {
	Name     string // trimmed; required, at most StaffNameMax characters
	SchoolID int64  // 0: every school of the tenant
}

// LastAdminError refuses a change that would leave something no active
// admin manages any more: every school of the organising body (SchoolID
// 0: there was an active admin of every school and there would be none),
// or one school (its last admin moved away, with no admin of every
// school). errors.Is matches ErrInvalid.
type LastAdminError struct{ SchoolID int64 }

func (e *LastAdminError) Error() string {
	if e.SchoolID == 0 {
		return "the organising body needs an active admin of every school"
	}
	return fmt.Sprintf("school %d needs an active admin", e.SchoolID)
}

// Unwrap returns ErrInvalid.
func (e *LastAdminError) Unwrap() error { return ErrInvalid }

// UpdateStaff changes the member's display name and school. The name is
// trimmed and required (at most StaffNameMax characters); the school is
// one of the tenant's, or 0 for every school. Whoever the active admins
// managed before, they still manage after: binding the last active admin
// of every school to one school, or moving the last admin of a school that
// no admin of every school covers, is a *LastAdminError. It returns
// ErrNotFound (no such member), ErrInvalid (bad name, unknown school) or
// *LastAdminError, and the member as saved. Nothing changed: nothing is
// written nor audited.
func (s *Store) UpdateStaff(ctx context.Context, tenantID, userID int64, p StaffProfile, actor string) (StaffUser, error) {
	p.Name = strings.TrimSpace(p.Name)
	switch n := utf8.RuneCountInString(p.Name); {
	case n == 0:
		return StaffUser{}, invalid("a staff user needs a name")
	case n > StaffNameMax:
		return StaffUser{}, invalid("name of %d characters: at most %d", n, StaffNameMax)
	case p.SchoolID < 0:
		return StaffUser{}, invalid("school %d: no such school", p.SchoolID)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the member, then the active admins, as SetStaffActive does.
		old, err := scanStaff(tx.QueryRow(ctx, `SELECT `+staffCols+` FROM staff_users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, userID), nil)
		if err != nil {
			return mapErr(err, fmt.Sprint("staff ", userID))
		}
		if old.Name == p.Name && old.SchoolID == p.SchoolID {
			return nil
		}
		before, err := adminScopes(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if p.SchoolID != 0 && p.SchoolID != old.SchoolID {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schools WHERE tenant_id = $1 AND id = $2)`, tenantID, p.SchoolID).Scan(&ok); err != nil {
				return fmt.Errorf("read school %d: %w", p.SchoolID, err)
			}
			if !ok {
				return invalid("school %d: no such school", p.SchoolID)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_users SET name = $3, school_id = $4 WHERE tenant_id = $1 AND id = $2`,
			tenantID, userID, p.Name, nullID(p.SchoolID)); err != nil {
			return mapErr(err, "staff profile")
		}
		if old.SchoolID != p.SchoolID && old.Active && old.Has(RoleAdmin) {
			after, err := adminScopes(ctx, tx, tenantID)
			if err != nil {
				return err
			}
			if err := before.keptBy(after); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenantID, actor, "staff.profile", fmt.Sprint("staff:", userID), map[string]any{
			"name": p.Name, "school_id": p.SchoolID, "was_name": old.Name, "was_school_id": old.SchoolID}, s.now())
	})
	if err != nil {
		return StaffUser{}, err
	}
	return s.StaffUser(ctx, tenantID, userID)
}

// scopes is what the active admins manage: every school, and the schools
// of the admins bound to one.
type scopes struct {
	all     bool
	schools map[int64]bool
}

// adminScopes locks the tenant's active admins in tx and returns what
// they manage.
func adminScopes(ctx context.Context, tx pgx.Tx, tenantID int64) (scopes, error) {
	rows, _ := tx.Query(ctx, `SELECT coalesce(school_id, 0) FROM staff_users
		WHERE tenant_id = $1 AND active AND 'admin' = ANY(roles) ORDER BY id FOR UPDATE`, tenantID)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return scopes{}, fmt.Errorf("read admins: %w", err)
	}
	sc := scopes{schools: map[int64]bool{}}
	for _, id := range ids {
		if id == 0 {
			sc.all = true
		} else {
			sc.schools[id] = true
		}
	}
	return sc, nil
}

// keptBy returns a *LastAdminError when after manages less than sc.
func (sc scopes) keptBy(after scopes) error {
	if sc.all && !after.all {
		return &LastAdminError{}
	}
	if after.all {
		return nil
	}
	ids := make([]int64, 0, len(sc.schools))
	for id := range sc.schools {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !after.schools[id] {
			return &LastAdminError{SchoolID: id}
		}
	}
	return nil
}

// wasActiveAdmin locks the user's row in tx and reports whether the user
// is an active admin (ErrNotFound: no such user).
func wasActiveAdmin(ctx context.Context, tx pgx.Tx, tenantID, userID int64) (bool, error) {
	var admin bool
	err := tx.QueryRow(ctx, `SELECT active AND 'admin' = ANY(roles) FROM staff_users WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		tenantID, userID).Scan(&admin)
	return admin, mapErr(err, fmt.Sprint("staff ", userID))
}

// keepAnAdmin fails with ErrInvalid when the tenant has no active admin
// left in tx, after a change took one away: the staff could no longer be
// managed. The remaining admins' rows are locked, so that two such changes
// at once see each other.
func keepAnAdmin(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM staff_users WHERE tenant_id = $1 AND active AND 'admin' = ANY(roles) FOR UPDATE) a`,
		tenantID).Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n == 0 {
		return invalid("the organising body needs at least one active admin")
	}
	return nil
}

// ListStaff returns the tenant's staff users by login.
func (s *Store) ListStaff(ctx context.Context, tenantID int64) ([]StaffUser, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+staffCols+` FROM staff_users WHERE tenant_id = $1 ORDER BY login`, tenantID)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StaffUser, error) { return scanStaff(r, nil) })
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	return out, nil
}

// passwordAlphabet has no look-alike characters (0/O, 1/l/I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewStaffPassword returns a random 16-character password (≈ 93 bits, from
// crypto/rand) to hand to a member of staff.
func NewStaffPassword() string {
	out := make([]byte, 0, 16)
	var buf [32]byte
	for len(out) < 16 {
		rand.Read(buf[:]) // never fails (crypto/rand)
		for _, c := range buf {
			// 56 letters: keep the bytes below 224 = 4 × 56, unbiased.
			if c < 4*byte(len(passwordAlphabet)) && len(out) < 16 {
				out = append(out, passwordAlphabet[int(c)%len(passwordAlphabet)])
			}
		}
	}
	return string(out)
}

const staffCols = `tenant_id, id, login, name, roles, coalesce(school_id, 0), active`

func scanStaff(row pgx.Row, hash *string) (StaffUser, error) {
	var u StaffUser
	var roles []string
	dest := []any{&u.TenantID, &u.ID, &u.Login, &u.Name, &roles, &u.SchoolID, &u.Active}
	if hash != nil {
		dest = append(dest, hash)
	}
	if err := row.Scan(dest...); err != nil {
		return StaffUser{}, err
	}
	for _, r := range roles {
		u.Roles = append(u.Roles, Role(r))
	}
	return u, nil
}

// StaffUser returns the tenant's staff user with this id, or ErrNotFound.
func (s *Store) StaffUser(ctx context.Context, tenantID, id int64) (StaffUser, error) {
	u, err := scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff_users WHERE tenant_id = $1 AND id = $2`, tenantID, id), nil)
	return u, mapErr(err, fmt.Sprint("staff ", id))
}

// StaffByLogin returns the staff user with this login (any tenant), or
// ErrNotFound.
func (s *Store) StaffByLogin(ctx context.Context, login string) (StaffUser, error) {
	u, err := scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff_users WHERE lower(login) = lower($1)`, strings.TrimSpace(login)), nil)
	return u, mapErr(err, "staff "+login)
}

// dummyHash is verified against when the login is unknown, so that an
// unknown login costs the same time as a wrong password.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YmVlZmJlZWZiZWVmYmVlZmJlZWZiZWVmYmVlZmJlZWY"

// AuthenticateStaff checks a login and password (argon2id, constant-time
// comparison; an unknown login costs the same as a wrong password) and
// returns the user. It returns ErrBadCredentials for an unknown login, a
// wrong password or a disabled user.
func (s *Store) AuthenticateStaff(ctx context.Context, login, pw string) (StaffUser, error) {
	var hash string
	u, err := scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffCols+`, password_hash FROM staff_users WHERE lower(login) = lower($1)`,
		strings.TrimSpace(login)), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = password.Verify(pw, dummyHash)
		return StaffUser{}, ErrBadCredentials
	}
	if err != nil {
		return StaffUser{}, fmt.Errorf("authenticate: %w", err)
	}
	if err := password.Verify(pw, hash); err != nil {
		if errors.Is(err, password.ErrMismatch) {
			return StaffUser{}, ErrBadCredentials
		}
		return StaffUser{}, fmt.Errorf("authenticate %s: %w", u.Login, err)
	}
	if !u.Active {
		return StaffUser{}, ErrBadCredentials
	}
	return u, nil
}
