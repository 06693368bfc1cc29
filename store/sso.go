package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
)

// storedConnection is the JSON document of a SAML connection: the public
// fields plus those the API shows under other names.
type storedConnection struct {
	glossa.SAMLConnection
	ClockSkewSeconds int64 `json:"clock_skew_seconds"`
}

// SaveSAMLConnection creates or replaces the organization's SAML
// connection and the email domains that route to it, in one transaction.
// A domain that already routes to another organization is ECONFLICT.
func (db *DB) SaveSAMLConnection(ctx context.Context, c *glossa.SAMLConnection) error {
	const op = "store.SaveSAMLConnection"
	saved := *c
	now := db.now()
	saved.UpdatedAt = now
	err := db.inTx(ctx, op, func(tx conn) error {
		var created time.Time
		err := tx.queryRow(ctx, "SELECT created_at FROM saml_connections WHERE org_id = ?", saved.OrgID).Scan(timeScan{&created})
		switch {
		case err == nil:
			saved.CreatedAt = created
		case errors.Is(err, sql.ErrNoRows):
			saved.CreatedAt = now
		default:
			return err
		}
		doc, err := json.Marshal(storedConnection{SAMLConnection: saved, ClockSkewSeconds: int64(saved.ClockSkew / time.Second)})
		if err != nil {
			return err
		}
		_, err = tx.exec(ctx, `INSERT INTO saml_connections (org_id, settings, created_at, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
			saved.OrgID, string(doc), db.timeValue(saved.CreatedAt), db.timeValue(now))
		if isForeignKey(err) {
			return glossa.NotFound("Organization")
		}
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "DELETE FROM saml_domains WHERE org_id = ?", saved.OrgID); err != nil {
			return err
		}
		for _, d := range saved.Domains {
			_, err := tx.exec(ctx, "INSERT INTO saml_domains (domain, org_id) VALUES (?, ?)", strings.ToLower(d), saved.OrgID)
			if isUnique(err) {
				return glossa.Errorf(glossa.ECONFLICT, "The domain %q already routes to another organization's identity provider.", d)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	*c = saved
	return nil
}

// FindSAMLConnection returns the organization's SAML connection.
func (db *DB) FindSAMLConnection(ctx context.Context, orgID int64) (*glossa.SAMLConnection, error) {
	return db.findSAMLConnection(ctx, "store.FindSAMLConnection", "SELECT org_id, settings FROM saml_connections WHERE org_id = ?", orgID)
}

// FindSAMLConnectionByDomain returns the connection an email domain routes to.
func (db *DB) FindSAMLConnectionByDomain(ctx context.Context, domain string) (*glossa.SAMLConnection, error) {
	return db.findSAMLConnection(ctx, "store.FindSAMLConnectionByDomain",
		"SELECT c.org_id, c.settings FROM saml_connections c JOIN saml_domains d ON d.org_id = c.org_id WHERE d.domain = ?",
		strings.ToLower(strings.TrimSpace(domain)))
}

func (db *DB) findSAMLConnection(ctx context.Context, op, query string, arg any) (*glossa.SAMLConnection, error) {
	c, err := scanSAMLConnection(db.reader().queryRow(ctx, query, arg))
	return c, dbError(op, notFoundIfNoRows(err, "SSO connection"))
}

// scanSAMLConnection reads (org_id, settings).
func scanSAMLConnection(row interface{ Scan(...any) error }) (*glossa.SAMLConnection, error) {
	var orgID int64
	var doc string
	if err := row.Scan(&orgID, &doc); err != nil {
		return nil, err
	}
	var sc storedConnection
	if err := json.Unmarshal([]byte(doc), &sc); err != nil {
		return nil, err
	}
	sc.ClockSkew = time.Duration(sc.ClockSkewSeconds) * time.Second
	sc.OrgID = orgID
	return &sc.SAMLConnection, nil
}

// FindSAMLConnections lists every organization's connection. It is the
// one cross-tenant read, for the background metadata refresh.
func (db *DB) FindSAMLConnections(ctx context.Context) ([]glossa.SAMLConnection, error) {
	const op = "store.FindSAMLConnections"
	rows, err := db.reader().query(ctx, "SELECT org_id, settings FROM saml_connections ORDER BY org_id")
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	out := []glossa.SAMLConnection{}
	for rows.Next() {
		c, err := scanSAMLConnection(rows)
		if err != nil {
			return nil, dbError(op, err)
		}
		out = append(out, *c)
	}
	return out, dbError(op, rows.Err())
}

// DeleteSAMLConnection removes the organization's SAML connection and its
// domains; removing one that does not exist is not an error.
func (db *DB) DeleteSAMLConnection(ctx context.Context, orgID int64) error {
	_, err := db.writer().exec(ctx, "DELETE FROM saml_connections WHERE org_id = ?", orgID)
	return dbError("store.DeleteSAMLConnection", err)
}
