package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/glossa-dev/glossa"
)

// projectColumnNames is the column list of scanProject; projectColumns is
// the same qualified by the alias p, for queries that join.
const projectColumnNames = "id, org_id, workspace_id, title, description, label_config, created_by, created_at, updated_at, task_count, annotated_task_count, annotation_count"

var projectColumns = qualify("p", projectColumnNames)

func scanProject(s interface{ Scan(...any) error }) (*glossa.Project, error) {
	var p glossa.Project
	var ws sql.NullInt64
	if err := s.Scan(&p.ID, &p.OrgID, &ws, &p.Title, &p.Description, &p.LabelConfig, &p.CreatedBy,
		timeScan{&p.CreatedAt}, timeScan{&p.UpdatedAt}, &p.TaskCount, &p.AnnotatedTaskCount, &p.AnnotationCount); err != nil {
		return nil, err
	}
	p.WorkspaceID = ws.Int64
	return &p, nil
}

// nullID stores the ID 0 ("none") as NULL.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// CreateProject creates p in p.OrgID, in p.WorkspaceID if set (a workspace
// of the same organization), and fills in its ID and times. Its counters
// start at zero whatever p says.
func (db *DB) CreateProject(ctx context.Context, p *glossa.Project) error {
	const op = "store.CreateProject"
	if p == nil || strings.TrimSpace(p.Title) == "" {
		return glossa.Errorf(glossa.EINVALID, "A project needs a title.")
	}
	np := *p
	now := db.now()
	np.CreatedAt, np.UpdatedAt = now, now
	np.TaskCount, np.AnnotatedTaskCount, np.AnnotationCount = 0, 0, 0
	err := db.inTx(ctx, op, func(tx conn) error {
		if np.WorkspaceID != 0 {
			ok, err := tx.exists(ctx, "SELECT 1 FROM workspaces WHERE org_id = ? AND id = ?", np.OrgID, np.WorkspaceID)
			if err != nil {
				return err
			}
			if !ok {
				return glossa.NotFound("Workspace")
			}
		}
		err := tx.queryRow(ctx, `INSERT INTO projects (org_id, workspace_id, title, description, label_config, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			np.OrgID, nullID(np.WorkspaceID), np.Title, np.Description, np.LabelConfig, np.CreatedBy,
			db.timeValue(now), db.timeValue(now)).Scan(&np.ID)
		if isForeignKey(err) {
			return glossa.NotFound("Organization")
		}
		return err
	})
	if err != nil {
		return err
	}
	*p = np
	return nil
}

// FindProjectByID returns a project of orgID.
func (db *DB) FindProjectByID(ctx context.Context, orgID, id int64) (*glossa.Project, error) {
	p, err := scanProject(db.reader().queryRow(ctx, "SELECT "+projectColumns+" FROM projects p WHERE p.org_id = ? AND p.id = ?", orgID, id))
	return p, dbError("store.FindProjectByID", notFoundIfNoRows(err, "Project"))
}

// FindProjects lists an organization's projects by ID, narrowed to a
// workspace and to the projects f.VisibleTo is a member of, directly or
// through the project's workspace.
func (db *DB) FindProjects(ctx context.Context, f glossa.ProjectFilter) ([]glossa.Project, error) {
	const op = "store.FindProjects"
	q := "SELECT " + projectColumns + " FROM projects p WHERE p.org_id = ?"
	args := []any{f.OrgID}
	if f.WorkspaceID != 0 {
		q, args = q+" AND p.workspace_id = ?", append(args, f.WorkspaceID)
	}
	if f.VisibleTo != 0 {
		q += ` AND (EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = p.id AND pm.user_id = ?)
			OR EXISTS (SELECT 1 FROM workspace_members wm WHERE wm.workspace_id = p.workspace_id AND wm.user_id = ?))`
		args = append(args, f.VisibleTo, f.VisibleTo)
	}
	rows, err := db.reader().query(ctx, q+" ORDER BY p.id", args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	ps := []glossa.Project{}
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		ps = append(ps, *p)
	}
	return ps, dbError(op, rows.Err())
}

// UpdateProject changes the fields of upd that are set and returns the
// project as it now is. A WorkspaceID of 0 takes the project out of its
// workspace; any other must be a workspace of the same organization.
func (db *DB) UpdateProject(ctx context.Context, orgID, id int64, upd glossa.ProjectUpdate) (*glossa.Project, error) {
	const op = "store.UpdateProject"
	var sets []string
	var args []any
	if upd.Title != nil {
		if strings.TrimSpace(*upd.Title) == "" {
			return nil, glossa.Errorf(glossa.EINVALID, "A project needs a title.")
		}
		sets, args = append(sets, "title = ?"), append(args, *upd.Title)
	}
	if upd.Description != nil {
		sets, args = append(sets, "description = ?"), append(args, *upd.Description)
	}
	if upd.LabelConfig != nil {
		sets, args = append(sets, "label_config = ?"), append(args, *upd.LabelConfig)
	}
	if upd.WorkspaceID != nil {
		sets, args = append(sets, "workspace_id = ?"), append(args, nullID(*upd.WorkspaceID))
	}
	sets, args = append(sets, "updated_at = ?"), append(args, db.timeValue(db.now()))
	args = append(args, orgID, id)
	var p *glossa.Project
	err := db.inTx(ctx, op, func(tx conn) error {
		if upd.WorkspaceID != nil && *upd.WorkspaceID != 0 {
			ok, err := tx.exists(ctx, "SELECT 1 FROM workspaces WHERE org_id = ? AND id = ?", orgID, *upd.WorkspaceID)
			if err != nil {
				return err
			}
			if !ok {
				return glossa.NotFound("Workspace")
			}
		}
		var err error
		p, err = scanProject(tx.queryRow(ctx, "UPDATE projects SET "+strings.Join(sets, ", ")+
			" WHERE org_id = ? AND id = ? RETURNING "+projectColumnNames, args...))
		return notFoundIfNoRows(err, "Project")
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeleteProject deletes a project of orgID with its tasks, annotations,
// predictions and memberships (ON DELETE CASCADE).
func (db *DB) DeleteProject(ctx context.Context, orgID, id int64) error {
	err := db.writer().execOne(ctx, glossa.NotFound("Project"), "DELETE FROM projects WHERE org_id = ? AND id = ?", orgID, id)
	return dbError("store.DeleteProject", err)
}

// SetProjectMember makes a member of orgID a member of one of its projects
// with role, or changes the role of one who is.
func (db *DB) SetProjectMember(ctx context.Context, orgID, projectID, userID int64, role glossa.ProjectRole) error {
	switch role {
	case glossa.ProjectAnnotator, glossa.ProjectReviewer, glossa.ProjectInherit:
	default:
		return glossa.Errorf(glossa.EINVALID, "Unknown project role %q: use Annotator, Reviewer or Inherit.", role)
	}
	return db.inTx(ctx, "store.SetProjectMember", func(tx conn) error {
		ok, err := tx.exists(ctx, "SELECT 1 FROM projects WHERE org_id = ? AND id = ?", orgID, projectID)
		if err != nil {
			return err
		}
		if !ok {
			return glossa.NotFound("Project")
		}
		if err := tx.checkUser(ctx, orgID, userID); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO project_members (project_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role`,
			projectID, userID, string(role), db.timeValue(db.now()))
		return err
	})
}

// RemoveProjectMember removes a user's direct membership of a project of
// orgID; a user who is not a member is ENOTFOUND.
func (db *DB) RemoveProjectMember(ctx context.Context, orgID, projectID, userID int64) error {
	err := db.writer().execOne(ctx, glossa.NotFound("Project member"),
		`DELETE FROM project_members WHERE project_id = ? AND user_id = ?
		AND project_id IN (SELECT id FROM projects WHERE org_id = ?)`, projectID, userID, orgID)
	return dbError("store.RemoveProjectMember", err)
}

// FindProjectMembers lists the direct members of a project of orgID, by ID.
func (db *DB) FindProjectMembers(ctx context.Context, orgID, projectID int64) ([]glossa.ProjectMember, error) {
	const op = "store.FindProjectMembers"
	r := db.reader()
	ok, err := r.exists(ctx, "SELECT 1 FROM projects WHERE org_id = ? AND id = ?", orgID, projectID)
	if err != nil {
		return nil, dbError(op, err)
	}
	if !ok {
		return nil, glossa.NotFound("Project")
	}
	rows, err := r.query(ctx, "SELECT "+memberColumns+", pm.role"+memberFrom+
		"JOIN project_members pm ON pm.user_id = u.id WHERE pm.project_id = ? AND u.org_id = ? ORDER BY u.id",
		projectID, orgID)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	pms := []glossa.ProjectMember{}
	for rows.Next() {
		var pm glossa.ProjectMember
		var role, prole string
		if err := rows.Scan(&pm.ID, &pm.OrgID, &pm.Email, &pm.FirstName, &pm.LastName,
			timeScan{&pm.CreatedAt}, timeScan{&pm.UpdatedAt}, &pm.PasswordHash, &role, &prole); err != nil {
			return nil, dbError(op, err)
		}
		pm.Role, pm.ProjectRole = glossa.Role(role), glossa.ProjectRole(prole)
		pms = append(pms, pm)
	}
	return pms, dbError(op, rows.Err())
}
