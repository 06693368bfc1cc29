package store

import (
	"context"
	"strings"

	"github.com/glossa-dev/glossa"
)

const workspaceColumns = "id, org_id, title, description, color, created_by, created_at, updated_at"

func scanWorkspace(s interface{ Scan(...any) error }) (*glossa.Workspace, error) {
	var w glossa.Workspace
	if err := s.Scan(&w.ID, &w.OrgID, &w.Title, &w.Description, &w.Color, &w.CreatedBy,
		timeScan{&w.CreatedAt}, timeScan{&w.UpdatedAt}); err != nil {
		return nil, err
	}
	return &w, nil
}

// CreateWorkspace creates ws in ws.OrgID and makes its creator (if
// CreatedBy is set; it must be a member of that organization) a member of
// it, in one transaction.
func (db *DB) CreateWorkspace(ctx context.Context, ws *glossa.Workspace) error {
	const op = "store.CreateWorkspace"
	if ws == nil || strings.TrimSpace(ws.Title) == "" {
		return glossa.Errorf(glossa.EINVALID, "A workspace needs a title.")
	}
	w := *ws
	now := db.now()
	w.CreatedAt, w.UpdatedAt = now, now
	err := db.inTx(ctx, op, func(tx conn) error {
		err := tx.queryRow(ctx, `INSERT INTO workspaces (org_id, title, description, color, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			w.OrgID, w.Title, w.Description, w.Color, w.CreatedBy, db.timeValue(now), db.timeValue(now)).Scan(&w.ID)
		if isForeignKey(err) {
			return glossa.NotFound("Organization")
		}
		if err != nil || w.CreatedBy == 0 {
			return err
		}
		// The creator must be in the workspace's organization.
		if err := tx.checkUser(ctx, w.OrgID, w.CreatedBy); err != nil {
			return err
		}
		_, err = tx.exec(ctx, "INSERT INTO workspace_members (workspace_id, user_id, created_at) VALUES (?, ?, ?)",
			w.ID, w.CreatedBy, db.timeValue(now))
		return err
	})
	if err != nil {
		return err
	}
	*ws = w
	return nil
}

// FindWorkspaceByID returns a workspace of orgID.
func (db *DB) FindWorkspaceByID(ctx context.Context, orgID, id int64) (*glossa.Workspace, error) {
	w, err := scanWorkspace(db.reader().queryRow(ctx, "SELECT "+workspaceColumns+" FROM workspaces WHERE org_id = ? AND id = ?", orgID, id))
	return w, dbError("store.FindWorkspaceByID", notFoundIfNoRows(err, "Workspace"))
}

// FindWorkspaces lists an organization's workspaces by ID, or only those
// f.MemberID belongs to.
func (db *DB) FindWorkspaces(ctx context.Context, f glossa.WorkspaceFilter) ([]glossa.Workspace, error) {
	const op = "store.FindWorkspaces"
	q := "SELECT " + workspaceColumns + " FROM workspaces w WHERE org_id = ?"
	args := []any{f.OrgID}
	if f.MemberID != 0 {
		q += " AND EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = w.id AND wm.user_id = ?)"
		args = append(args, f.MemberID)
	}
	rows, err := db.reader().query(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	ws := []glossa.Workspace{}
	for rows.Next() {
		w, err := scanWorkspace(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		ws = append(ws, *w)
	}
	return ws, dbError(op, rows.Err())
}

// UpdateWorkspace changes the fields of upd that are set and returns the
// workspace as it now is.
func (db *DB) UpdateWorkspace(ctx context.Context, orgID, id int64, upd glossa.WorkspaceUpdate) (*glossa.Workspace, error) {
	var sets []string
	var args []any
	if upd.Title != nil {
		if strings.TrimSpace(*upd.Title) == "" {
			return nil, glossa.Errorf(glossa.EINVALID, "A workspace needs a title.")
		}
		sets, args = append(sets, "title = ?"), append(args, *upd.Title)
	}
	if upd.Description != nil {
		sets, args = append(sets, "description = ?"), append(args, *upd.Description)
	}
	if upd.Color != nil {
		sets, args = append(sets, "color = ?"), append(args, *upd.Color)
	}
	sets, args = append(sets, "updated_at = ?"), append(args, db.timeValue(db.now()))
	args = append(args, orgID, id)
	w, err := scanWorkspace(db.writer().queryRow(ctx,
		"UPDATE workspaces SET "+strings.Join(sets, ", ")+" WHERE org_id = ? AND id = ? RETURNING "+workspaceColumns, args...))
	return w, dbError("store.UpdateWorkspace", notFoundIfNoRows(err, "Workspace"))
}

// errWorkspaceNotEmpty is DeleteWorkspace's answer for a workspace with projects.
var errWorkspaceNotEmpty = glossa.Errorf(glossa.ECONFLICT, "Move or delete the workspace's projects first.")

// DeleteWorkspace deletes an empty workspace; one with projects is
// ECONFLICT, so that no project is lost by deleting its folder.
func (db *DB) DeleteWorkspace(ctx context.Context, orgID, id int64) error {
	return db.inTx(ctx, "store.DeleteWorkspace", func(tx conn) error {
		ok, err := tx.exists(ctx, "SELECT 1 FROM workspaces WHERE org_id = ? AND id = ?", orgID, id)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Workspace")
		}
		busy, err := tx.exists(ctx, "SELECT 1 FROM projects WHERE workspace_id = ? LIMIT 1", id)
		if err != nil {
			return err
		}
		if busy {
			return errWorkspaceNotEmpty
		}
		_, err = tx.exec(ctx, "DELETE FROM workspaces WHERE org_id = ? AND id = ?", orgID, id)
		if isForeignKey(err) {
			// A project moved in after the check (PostgreSQL, READ COMMITTED).
			return errWorkspaceNotEmpty
		}
		return err
	})
}

// AddWorkspaceMember makes a member of orgID a member of one of its
// workspaces; adding a member twice is not an error.
func (db *DB) AddWorkspaceMember(ctx context.Context, orgID, workspaceID, userID int64) error {
	return db.inTx(ctx, "store.AddWorkspaceMember", func(tx conn) error {
		if err := tx.checkWorkspaceAndUser(ctx, orgID, workspaceID, userID); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO workspace_members (workspace_id, user_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT (workspace_id, user_id) DO NOTHING`, workspaceID, userID, db.timeValue(db.now()))
		return err
	})
}

// checkWorkspaceAndUser checks that both the workspace and the user are in orgID.
func (c conn) checkWorkspaceAndUser(ctx context.Context, orgID, workspaceID, userID int64) error {
	ok, err := c.exists(ctx, "SELECT 1 FROM workspaces WHERE org_id = ? AND id = ?", orgID, workspaceID)
	if err != nil {
		return err
	}
	if !ok {
		return glossa.NotFound("Workspace")
	}
	return c.checkUser(ctx, orgID, userID)
}

// checkUser checks that the user is in orgID.
func (c conn) checkUser(ctx context.Context, orgID, userID int64) error {
	ok, err := c.exists(ctx, "SELECT 1 FROM users WHERE org_id = ? AND id = ?", orgID, userID)
	if err != nil {
		return err
	}
	if !ok {
		return glossa.NotFound("Member")
	}
	return nil
}

// RemoveWorkspaceMember removes a user from a workspace of orgID; a user who
// is not a member is ENOTFOUND.
func (db *DB) RemoveWorkspaceMember(ctx context.Context, orgID, workspaceID, userID int64) error {
	err := db.writer().execOne(ctx, glossa.NotFound("Workspace member"),
		`DELETE FROM workspace_members WHERE workspace_id = ? AND user_id = ?
		AND workspace_id IN (SELECT id FROM workspaces WHERE org_id = ?)`, workspaceID, userID, orgID)
	return dbError("store.RemoveWorkspaceMember", err)
}

// FindWorkspaceMembers lists the members of a workspace of orgID, by ID.
func (db *DB) FindWorkspaceMembers(ctx context.Context, orgID, workspaceID int64) ([]glossa.Member, error) {
	const op = "store.FindWorkspaceMembers"
	r := db.reader()
	ok, err := r.exists(ctx, "SELECT 1 FROM workspaces WHERE org_id = ? AND id = ?", orgID, workspaceID)
	if err != nil {
		return nil, dbError(op, err)
	}
	if !ok {
		return nil, glossa.NotFound("Workspace")
	}
	ms, err := r.members(ctx, "SELECT "+memberColumns+memberFrom+
		"JOIN workspace_members wm ON wm.user_id = u.id WHERE wm.workspace_id = ? AND u.org_id = ? ORDER BY u.id",
		workspaceID, orgID)
	return ms, dbError(op, err)
}
