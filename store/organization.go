package store

import (
	"context"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
)

// normSlug and normEmail give slugs and emails their stored form: trimmed
// and lower-cased, so that "ACME" and "acme" cannot be two tenants and
// "Ann@X.org" and "ann@x.org" cannot be two accounts; lookups normalize
// their argument the same way, which makes them case-insensitive.
func normSlug(s string) string  { return strings.ToLower(strings.TrimSpace(s)) }
func normEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

const orgColumns = "id, title, slug, session_idle_timeout, session_max_age, created_at, updated_at"

func scanOrg(s interface{ Scan(...any) error }) (*glossa.Organization, error) {
	var o glossa.Organization
	var idle, maxAge int64
	if err := s.Scan(&o.ID, &o.Title, &o.Slug, &idle, &maxAge, timeScan{&o.CreatedAt}, timeScan{&o.UpdatedAt}); err != nil {
		return nil, err
	}
	o.SessionIdleTimeout = time.Duration(idle) * time.Second
	o.SessionMaxAge = time.Duration(maxAge) * time.Second
	return &o, nil
}

func checkSessionTimeouts(idle, maxAge time.Duration) error {
	if idle < time.Second || maxAge < time.Second {
		return glossa.Errorf(glossa.EINVALID, "Session timeouts must be at least one second.")
	}
	return nil
}

// CreateOrganization creates org with owner as its Owner, in one
// transaction, and fills in their IDs and times. Zero session timeouts take
// Label Studio's defaults. A taken slug is ECONFLICT.
func (db *DB) CreateOrganization(ctx context.Context, org *glossa.Organization, owner *glossa.User) error {
	const op = "store.CreateOrganization"
	if org == nil || owner == nil {
		return glossa.Errorf(glossa.EINVALID, "An organization needs an owner.")
	}
	slug := normSlug(org.Slug)
	if slug == "" {
		return glossa.Errorf(glossa.EINVALID, "An organization needs a slug.")
	}
	if normEmail(owner.Email) == "" {
		return glossa.Errorf(glossa.EINVALID, "The owner needs an email address.")
	}
	idle, maxAge := org.SessionIdleTimeout, org.SessionMaxAge
	if idle == 0 {
		idle = glossa.DefaultSessionIdleTimeout
	}
	if maxAge == 0 {
		maxAge = glossa.DefaultSessionMaxAge
	}
	if err := checkSessionTimeouts(idle, maxAge); err != nil {
		return err
	}
	now := db.now()
	o := *org
	o.Slug, o.SessionIdleTimeout, o.SessionMaxAge, o.CreatedAt, o.UpdatedAt = slug, idle, maxAge, now, now
	u := *owner
	err := db.inTx(ctx, op, func(tx conn) error {
		err := tx.queryRow(ctx, `INSERT INTO organizations (title, slug, session_idle_timeout, session_max_age, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			o.Title, o.Slug, int64(idle/time.Second), int64(maxAge/time.Second), db.timeValue(now), db.timeValue(now)).Scan(&o.ID)
		if isUnique(err) {
			return glossa.Errorf(glossa.ECONFLICT, "An organization with the slug %q already exists.", slug)
		}
		if err != nil {
			return err
		}
		u.OrgID = o.ID
		return insertMember(ctx, tx, &u, glossa.RoleOwner, now)
	})
	if err != nil {
		return err
	}
	*org, *owner = o, u
	return nil
}

// insertMember inserts a user and their membership; u.OrgID must be set.
func insertMember(ctx context.Context, tx conn, u *glossa.User, role glossa.Role, now time.Time) error {
	u.Email = normEmail(u.Email)
	u.CreatedAt, u.UpdatedAt = now, now
	err := tx.queryRow(ctx, `INSERT INTO users (org_id, email, first_name, last_name, password_hash, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		u.OrgID, u.Email, u.FirstName, u.LastName, u.PasswordHash, tx.db.timeValue(now), tx.db.timeValue(now)).Scan(&u.ID)
	switch {
	case isUnique(err):
		return glossa.Errorf(glossa.ECONFLICT, "A member with the email %q already exists in this organization.", u.Email)
	case isForeignKey(err):
		return glossa.NotFound("Organization")
	case err != nil:
		return err
	}
	_, err = tx.exec(ctx, "INSERT INTO memberships (user_id, org_id, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
		u.ID, u.OrgID, string(role), tx.db.timeValue(now), tx.db.timeValue(now))
	return err
}

// FindOrganizationByID returns the organization with this ID.
func (db *DB) FindOrganizationByID(ctx context.Context, id int64) (*glossa.Organization, error) {
	o, err := scanOrg(db.reader().queryRow(ctx, "SELECT "+orgColumns+" FROM organizations WHERE id = ?", id))
	return o, dbError("store.FindOrganizationByID", notFoundIfNoRows(err, "Organization"))
}

// FindOrganizationBySlug returns the organization with this slug, in any case.
func (db *DB) FindOrganizationBySlug(ctx context.Context, slug string) (*glossa.Organization, error) {
	o, err := scanOrg(db.reader().queryRow(ctx, "SELECT "+orgColumns+" FROM organizations WHERE slug = ?", normSlug(slug)))
	return o, dbError("store.FindOrganizationBySlug", notFoundIfNoRows(err, "Organization"))
}

// UpdateOrganization changes the fields of upd that are set and returns
// the organization as it now is.
func (db *DB) UpdateOrganization(ctx context.Context, id int64, upd glossa.OrganizationUpdate) (*glossa.Organization, error) {
	const op = "store.UpdateOrganization"
	var sets []string
	var args []any
	if upd.Title != nil {
		sets, args = append(sets, "title = ?"), append(args, *upd.Title)
	}
	if upd.SessionIdleTimeout != nil {
		if err := checkSessionTimeouts(*upd.SessionIdleTimeout, time.Second); err != nil {
			return nil, err
		}
		sets, args = append(sets, "session_idle_timeout = ?"), append(args, int64(*upd.SessionIdleTimeout/time.Second))
	}
	if upd.SessionMaxAge != nil {
		if err := checkSessionTimeouts(time.Second, *upd.SessionMaxAge); err != nil {
			return nil, err
		}
		sets, args = append(sets, "session_max_age = ?"), append(args, int64(*upd.SessionMaxAge/time.Second))
	}
	sets, args = append(sets, "updated_at = ?"), append(args, db.timeValue(db.now()))
	args = append(args, id)
	o, err := scanOrg(db.writer().queryRow(ctx,
		"UPDATE organizations SET "+strings.Join(sets, ", ")+" WHERE id = ? RETURNING "+orgColumns, args...))
	return o, dbError(op, notFoundIfNoRows(err, "Organization"))
}

// CountOrganizations returns how many organizations exist.
func (db *DB) CountOrganizations(ctx context.Context) (int, error) {
	var n int
	err := db.reader().queryRow(ctx, "SELECT COUNT(*) FROM organizations").Scan(&n)
	return n, dbError("store.CountOrganizations", err)
}

// memberColumns reads a Member from users u joined with memberships m.
const memberColumns = "u.id, u.org_id, u.email, u.first_name, u.last_name, u.created_at, u.updated_at, u.password_hash, m.role"

const memberFrom = " FROM users u JOIN memberships m ON m.user_id = u.id "

func scanMember(s interface{ Scan(...any) error }) (*glossa.Member, error) {
	var m glossa.Member
	var role string
	if err := s.Scan(&m.ID, &m.OrgID, &m.Email, &m.FirstName, &m.LastName,
		timeScan{&m.CreatedAt}, timeScan{&m.UpdatedAt}, &m.PasswordHash, &role); err != nil {
		return nil, err
	}
	m.Role = glossa.Role(role)
	return &m, nil
}

func (c conn) members(ctx context.Context, query string, args ...any) ([]glossa.Member, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ms := []glossa.Member{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, err
		}
		ms = append(ms, *m)
	}
	return ms, rows.Err()
}

// CreateMember creates an account in u.OrgID with role and fills in its ID
// and times. A taken email in that organization is ECONFLICT.
func (db *DB) CreateMember(ctx context.Context, u *glossa.User, role glossa.Role) error {
	const op = "store.CreateMember"
	if u == nil || normEmail(u.Email) == "" {
		return glossa.Errorf(glossa.EINVALID, "A member needs an email address.")
	}
	if !role.Valid() {
		return glossa.Errorf(glossa.EINVALID, "Unknown role %q.", role)
	}
	nu := *u
	if err := db.inTx(ctx, op, func(tx conn) error { return insertMember(ctx, tx, &nu, role, db.now()) }); err != nil {
		return err
	}
	*u = nu
	return nil
}

// FindMemberByID returns a member of orgID.
func (db *DB) FindMemberByID(ctx context.Context, orgID, userID int64) (*glossa.Member, error) {
	m, err := scanMember(db.reader().queryRow(ctx, "SELECT "+memberColumns+memberFrom+"WHERE u.org_id = ? AND u.id = ?", orgID, userID))
	return m, dbError("store.FindMemberByID", notFoundIfNoRows(err, "Member"))
}

// FindMemberByEmail returns the member of orgID with this email, in any case.
func (db *DB) FindMemberByEmail(ctx context.Context, orgID int64, email string) (*glossa.Member, error) {
	m, err := scanMember(db.reader().queryRow(ctx, "SELECT "+memberColumns+memberFrom+"WHERE u.org_id = ? AND u.email = ?", orgID, normEmail(email)))
	return m, dbError("store.FindMemberByEmail", notFoundIfNoRows(err, "Member"))
}

// FindMembersByEmail returns the accounts with this email in every
// organization, ordered by organization; none is an empty list.
func (db *DB) FindMembersByEmail(ctx context.Context, email string) ([]glossa.Member, error) {
	ms, err := db.reader().members(ctx, "SELECT "+memberColumns+memberFrom+"WHERE u.email = ? ORDER BY u.org_id, u.id", normEmail(email))
	return ms, dbError("store.FindMembersByEmail", err)
}

// FindMembers returns one page of an organization's members, by ID, and
// how many match the filter. Organizations have people, not millions of
// rows, so the total is a COUNT.
func (db *DB) FindMembers(ctx context.Context, f glossa.MemberFilter) ([]glossa.Member, int, error) {
	const op = "store.FindMembers"
	where := "WHERE u.org_id = ?"
	args := []any{f.OrgID}
	if f.Email != "" {
		where, args = where+" AND u.email = ?", append(args, normEmail(f.Email))
	}
	if f.Role != "" {
		where, args = where+" AND m.role = ?", append(args, string(f.Role))
	}
	r := db.reader()
	var total int
	if err := r.queryRow(ctx, "SELECT COUNT(*)"+memberFrom+where, args...).Scan(&total); err != nil {
		return nil, 0, dbError(op, err)
	}
	ms, err := r.members(ctx, "SELECT "+memberColumns+memberFrom+where+" ORDER BY u.id LIMIT ? OFFSET ?",
		append(args, pageLimit(f.Limit), max(f.Offset, 0))...)
	if err != nil {
		return nil, 0, dbError(op, err)
	}
	return ms, total, nil
}

// UpdateMemberRole sets a member's organization role and returns the member.
func (db *DB) UpdateMemberRole(ctx context.Context, orgID, userID int64, role glossa.Role) (*glossa.Member, error) {
	const op = "store.UpdateMemberRole"
	if !role.Valid() {
		return nil, glossa.Errorf(glossa.EINVALID, "Unknown role %q.", role)
	}
	var m *glossa.Member
	err := db.inTx(ctx, op, func(tx conn) error {
		now := db.timeValue(db.now())
		if err := tx.execOne(ctx, glossa.NotFound("Member"),
			"UPDATE memberships SET role = ?, updated_at = ? WHERE org_id = ? AND user_id = ?",
			string(role), now, orgID, userID); err != nil {
			return err
		}
		var err error
		m, err = scanMember(tx.queryRow(ctx, "SELECT "+memberColumns+memberFrom+"WHERE u.org_id = ? AND u.id = ?", orgID, userID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// SetPassword stores a member's password hash ("" for SSO only).
func (db *DB) SetPassword(ctx context.Context, orgID, userID int64, hash string) error {
	err := db.writer().execOne(ctx, glossa.NotFound("Member"),
		"UPDATE users SET password_hash = ?, updated_at = ? WHERE org_id = ? AND id = ?",
		hash, db.timeValue(db.now()), orgID, userID)
	return dbError("store.SetPassword", err)
}

// FindAccess loads the workspaces a user is a member of and their direct
// project memberships, both inside orgID. A user with none gets empty maps.
func (db *DB) FindAccess(ctx context.Context, orgID, userID int64) (glossa.Access, error) {
	const op = "store.FindAccess"
	a := glossa.Access{Workspaces: map[int64]bool{}, Projects: map[int64]glossa.ProjectRole{}}
	r := db.reader()
	rows, err := r.query(ctx, `SELECT wm.workspace_id FROM workspace_members wm
		JOIN workspaces w ON w.id = wm.workspace_id
		WHERE w.org_id = ? AND wm.user_id = ?`, orgID, userID)
	if err != nil {
		return glossa.Access{}, dbError(op, err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return glossa.Access{}, dbError(op, err)
		}
		a.Workspaces[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return glossa.Access{}, dbError(op, err)
	}
	rows, err = r.query(ctx, `SELECT pm.project_id, pm.role FROM project_members pm
		JOIN projects p ON p.id = pm.project_id
		WHERE p.org_id = ? AND pm.user_id = ?`, orgID, userID)
	if err != nil {
		return glossa.Access{}, dbError(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var role string
		if err := rows.Scan(&id, &role); err != nil {
			return glossa.Access{}, dbError(op, err)
		}
		a.Projects[id] = glossa.ProjectRole(role)
	}
	if err := rows.Err(); err != nil {
		return glossa.Access{}, dbError(op, err)
	}
	return a, nil
}
