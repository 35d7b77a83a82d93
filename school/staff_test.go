package school

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestUpdateStaff(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.store
	ten := f.tenant.ID
	other, err := s.EnsureSchool(ctx, ten, SchoolInput{Code: "chenes", Name: "Les Chênes"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(login string, roles []Role, schoolID int64) StaffUser {
		t.Helper()
		u, err := s.CreateStaff(ctx, ten, StaffInput{Login: login, Name: login, Password: "long-enough", Roles: roles, SchoolID: schoolID}, "system")
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	boss := mk("boss", []Role{RoleAdmin}, 0)
	head := mk("head", []Role{RoleAdmin}, f.school.ID)
	cook := mk("cook", []Role{RoleCanteen}, f.school.ID)

	// Name and school of a member who is not an admin.
	u, err := s.UpdateStaff(ctx, ten, cook.ID, StaffProfile{Name: "  Julie Martin ", SchoolID: other.ID}, "staff:1")
	if err != nil || u.Name != "Julie Martin" || u.SchoolID != other.ID {
		t.Fatalf("UpdateStaff = %+v, %v", u, err)
	}
	if u, err = s.UpdateStaff(ctx, ten, cook.ID, StaffProfile{Name: "Julie Martin"}, "staff:1"); err != nil || u.SchoolID != 0 {
		t.Fatalf("unbind to every school = %+v, %v", u, err)
	}
	log, err := s.AuditLog(ctx, ten, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) < 2 || log[0].Action != "staff.profile" || log[0].Subject != fmt.Sprint("staff:", cook.ID) || log[0].Actor != "staff:1" ||
		log[1].Detail["was_name"] != "cook" || log[1].Detail["name"] != "Julie Martin" {
		t.Errorf("audit = %+v", log[:min(2, len(log))])
	}
	// Nothing changed: nothing audited.
	if _, err := s.UpdateStaff(ctx, ten, cook.ID, StaffProfile{Name: "Julie Martin"}, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.AuditLog(ctx, ten, 1); again[0].ID != log[0].ID {
		t.Errorf("an update that changed nothing was audited: %+v", again[0])
	}

	// Refusals change nothing.
	for _, tc := range []struct {
		name string
		id   int64
		p    StaffProfile
		is   error
		last int64 // the LastAdminError's school, -1: none
	}{
		{"empty name", cook.ID, StaffProfile{Name: "   "}, ErrInvalid, -1},
		{"long name", cook.ID, StaffProfile{Name: strings.Repeat("é", StaffNameMax+1)}, ErrInvalid, -1},
		{"unknown school", cook.ID, StaffProfile{Name: "Julie", SchoolID: 999999}, ErrInvalid, -1},
		{"negative school", cook.ID, StaffProfile{Name: "Julie", SchoolID: -1}, ErrInvalid, -1},
		{"unknown member", 999999, StaffProfile{Name: "X"}, ErrNotFound, -1},
		{"last admin of every school bound to one", boss.ID, StaffProfile{Name: "boss", SchoolID: f.school.ID}, ErrInvalid, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateStaff(ctx, ten, tc.id, tc.p, "staff:1")
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			var le *LastAdminError
			if got := errors.As(err, &le); got != (tc.last >= 0) || (got && le.SchoolID != tc.last) {
				t.Errorf("err = %#v, want a LastAdminError for school %d", err, tc.last)
			}
		})
	}
	if u, _ := s.StaffUser(ctx, ten, cook.ID); u.Name != "Julie Martin" || u.SchoolID != 0 {
		t.Errorf("a refusal changed the member: %+v", u)
	}
	if u, _ := s.StaffUser(ctx, ten, boss.ID); u.SchoolID != 0 {
		t.Errorf("the last admin of every school was bound to one: %+v", u)
	}
	if _, err := s.UpdateStaff(ctx, ten+1000, cook.ID, StaffProfile{Name: "X"}, "staff:1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's member: %v, want ErrNotFound", err)
	}
	// A name exactly StaffNameMax characters long is fine.
	if _, err := s.UpdateStaff(ctx, ten, cook.ID, StaffProfile{Name: strings.Repeat("é", StaffNameMax)}, "staff:1"); err != nil {
		t.Errorf("a name of %d characters: %v", StaffNameMax, err)
	}

	// With an admin of every school, the school's last admin may move.
	if _, err := s.UpdateStaff(ctx, ten, head.ID, StaffProfile{Name: "head", SchoolID: other.ID}, "staff:1"); err != nil {
		t.Errorf("moving a school's admin while an admin of every school remains: %v", err)
	}
	// With a second admin of every school, boss may be bound to one school;
	// then the second one is the last and is refused.
	boss2 := mk("boss2", []Role{RoleAdmin}, 0)
	if _, err := s.UpdateStaff(ctx, ten, boss.ID, StaffProfile{Name: "boss", SchoolID: f.school.ID}, "staff:1"); err != nil {
		t.Fatalf("binding one of two admins of every school: %v", err)
	}
	var le *LastAdminError
	if _, err := s.UpdateStaff(ctx, ten, boss2.ID, StaffProfile{Name: "boss2", SchoolID: other.ID}, "staff:1"); !errors.As(err, &le) || le.SchoolID != 0 {
		t.Errorf("binding the last admin of every school: %v", err)
	}
	// A disabled admin does not count, and is not protected.
	if err := s.SetStaffActive(ctx, ten, boss.ID, false, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateStaff(ctx, ten, boss.ID, StaffProfile{Name: "boss", SchoolID: other.ID}, "staff:1"); err != nil {
		t.Errorf("moving a disabled admin: %v", err)
	}

	// Without an admin of every school, a school's last admin stays there.
	direction := mk("direction", []Role{RoleAdmin}, f.school.ID)
	if err := s.SetStaffRoles(ctx, ten, boss2.ID, []Role{RoleAccountant}, "staff:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateStaff(ctx, ten, direction.ID, StaffProfile{Name: "direction", SchoolID: other.ID}, "staff:1"); !errors.As(err, &le) || le.SchoolID != f.school.ID {
		t.Errorf("moving the last admin of a school: %v, want a LastAdminError for school %d", err, f.school.ID)
	}
	if u, _ := s.StaffUser(ctx, ten, direction.ID); u.SchoolID != f.school.ID {
		t.Errorf("the school's last admin moved: %+v", u)
	}
}
