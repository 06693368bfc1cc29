package store

import (
	"context"
	"strings"
	"time"

	"github.com/glossa-dev/glossa"
)

// FindSPKeys lists an organization's live SP keys, newest first.
func (db *DB) FindSPKeys(ctx context.Context, orgID int64) ([]glossa.SPKey, error) {
	const op = "store.FindSPKeys"
	rows, err := db.reader().query(ctx, `SELECT id, org_id, purpose, cert_pem, sealed_key, created_at FROM sp_keys
		WHERE org_id = ? AND retired_at IS NULL ORDER BY id DESC`, orgID)
	if err != nil {
		return nil, dbError(op, err)
	}
	defer rows.Close()
	keys := []glossa.SPKey{}
	for rows.Next() {
		var k glossa.SPKey
		if err := rows.Scan(&k.ID, &k.OrgID, &k.Purpose, &k.CertPEM, &k.SealedKey, timeScan{&k.CreatedAt}); err != nil {
			return nil, dbError(op, err)
		}
		keys = append(keys, k)
	}
	return keys, dbError(op, rows.Err())
}

// CreateSPKey stores a new key pair (its private key already sealed).
func (db *DB) CreateSPKey(ctx context.Context, k *glossa.SPKey) error {
	const op = "store.CreateSPKey"
	if k.Purpose != glossa.KeySigning && k.Purpose != glossa.KeyEncryption {
		return glossa.Errorf(glossa.EINVALID, "An SP key is for signing or encryption.")
	}
	now := db.now()
	err := db.writer().queryRow(ctx, `INSERT INTO sp_keys (org_id, purpose, cert_pem, sealed_key, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, k.OrgID, k.Purpose, k.CertPEM, k.SealedKey, db.timeValue(now)).Scan(&k.ID)
	if isForeignKey(err) {
		return glossa.NotFound("Organization")
	}
	if err != nil {
		return dbError(op, err)
	}
	k.CreatedAt = norm(now)
	return nil
}

// RetireSPKey stops using a key: it is no longer published, nor used to
// decrypt.
func (db *DB) RetireSPKey(ctx context.Context, orgID, id int64, at time.Time) error {
	err := db.writer().execOne(ctx, glossa.NotFound("SP key"),
		"UPDATE sp_keys SET retired_at = ? WHERE org_id = ? AND id = ? AND retired_at IS NULL", db.timeValue(at), orgID, id)
	return dbError("store.RetireSPKey", err)
}

// CreateSAMLRequest records a pending sign-in, and sweeps out expired ones.
func (db *DB) CreateSAMLRequest(ctx context.Context, r *glossa.SAMLRequest) error {
	const op = "store.CreateSAMLRequest"
	now := db.now()
	err := db.inTx(ctx, op, func(tx conn) error {
		if _, err := tx.exec(ctx, "DELETE FROM saml_requests WHERE expires_at < ?", db.timeValue(now)); err != nil {
			return err
		}
		purpose := r.Purpose
		if purpose == "" {
			purpose = glossa.SAMLSignIn
		}
		_, err := tx.exec(ctx, `INSERT INTO saml_requests (id, org_id, purpose, relay_state, browser_hash, return_to, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.OrgID, purpose, r.RelayState, r.BrowserHash, r.ReturnTo, db.timeValue(now), db.timeValue(r.ExpiresAt))
		if isUnique(err) {
			return glossa.Errorf(glossa.ECONFLICT, "That sign-in request already exists.")
		}
		if isForeignKey(err) {
			return glossa.NotFound("Organization")
		}
		return err
	})
	if err != nil {
		return err
	}
	r.CreatedAt = norm(now)
	return nil
}

// TakeSAMLRequest returns and deletes a pending sign-in. The DELETE ...
// RETURNING makes the one use atomic: of two responses racing with the same
// RelayState, one gets the request.
//
// Security-sensitive: this binds a response to the browser that asked.
func (db *DB) TakeSAMLRequest(ctx context.Context, orgID int64, relayState, browserHash string, now time.Time) (*glossa.SAMLRequest, error) {
	const op = "store.TakeSAMLRequest"
	var r glossa.SAMLRequest
	err := db.writer().queryRow(ctx, `DELETE FROM saml_requests WHERE org_id = ? AND relay_state = ? AND browser_hash = ? AND expires_at > ?
		RETURNING id, org_id, purpose, relay_state, browser_hash, return_to, created_at, expires_at`,
		orgID, relayState, browserHash, db.timeValue(now)).
		Scan(&r.ID, &r.OrgID, &r.Purpose, &r.RelayState, &r.BrowserHash, &r.ReturnTo, timeScan{&r.CreatedAt}, timeScan{&r.ExpiresAt})
	if err != nil {
		return nil, dbError(op, notFoundIfNoRows(err, "Sign-in request"))
	}
	return &r, nil
}

// ConsumeAssertion records an assertion ID as used until until. The
// primary key makes a second use fail in any process sharing the database;
// a row whose time has passed is taken over instead (a response that old
// is refused by its own expiry), so expired rows need not be cleared on
// the sign-in path (DeleteExpiredAssertions does it in the background).
func (db *DB) ConsumeAssertion(ctx context.Context, orgID int64, assertionID string, until time.Time) error {
	const op = "store.ConsumeAssertion"
	res, err := db.writer().exec(ctx, `INSERT INTO saml_assertions_used (org_id, assertion_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (org_id, assertion_id) DO UPDATE SET expires_at = excluded.expires_at
		WHERE saml_assertions_used.expires_at < ?`,
		orgID, assertionID, db.timeValue(until), db.timeValue(db.now()))
	if isForeignKey(err) {
		return glossa.NotFound("Organization")
	}
	if err != nil {
		return dbError(op, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return dbError(op, err)
		}
		return glossa.Errorf(glossa.ECONFLICT, "This assertion was already used.")
	}
	return nil
}

// DeleteExpiredAssertions removes the used assertion IDs whose time has
// passed and returns how many.
func (db *DB) DeleteExpiredAssertions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.writer().exec(ctx, "DELETE FROM saml_assertions_used WHERE expires_at < ?", db.timeValue(now))
	if err != nil {
		return 0, dbError("store.DeleteExpiredAssertions", err)
	}
	n, err := res.RowsAffected()
	return n, dbError("store.DeleteExpiredAssertions", err)
}

// FindSAMLMember returns the member of orgID linked to an IdP identity,
// read with the link in one query: it is on every SSO sign-in's path.
func (db *DB) FindSAMLMember(ctx context.Context, orgID int64, idpEntityID, nameID string) (*glossa.Member, error) {
	m, err := scanMember(db.reader().queryRow(ctx, "SELECT "+memberColumns+memberFrom+
		"JOIN saml_identities i ON i.user_id = u.id AND i.org_id = u.org_id WHERE i.org_id = ? AND i.idp_entity_id = ? AND i.name_id = ?",
		orgID, idpEntityID, nameID))
	return m, dbError("store.FindSAMLMember", notFoundIfNoRows(err, "SSO identity"))
}

// LinkSAMLIdentity links an IdP identity to a user of the same
// organization; an identity already linked is ECONFLICT.
func (db *DB) LinkSAMLIdentity(ctx context.Context, orgID int64, idpEntityID, nameID string, userID int64) error {
	return db.inTx(ctx, "store.LinkSAMLIdentity", func(tx conn) error {
		if err := tx.checkUser(ctx, orgID, userID); err != nil {
			return err
		}
		_, err := tx.exec(ctx, "INSERT INTO saml_identities (org_id, idp_entity_id, name_id, user_id) VALUES (?, ?, ?, ?)",
			orgID, idpEntityID, nameID, userID)
		if isUnique(err) {
			return glossa.Errorf(glossa.ECONFLICT, "This SSO identity is already linked to an account.")
		}
		return err
	})
}

// FindSAMLSession returns the IdP session behind a Glossa session.
func (db *DB) FindSAMLSession(ctx context.Context, sessionIDHash string) (*glossa.SAMLSession, error) {
	var s glossa.SAMLSession
	err := db.reader().queryRow(ctx, `SELECT session_id_hash, org_id, idp_entity_id, name_id, name_id_format, session_index
		FROM saml_sessions WHERE session_id_hash = ?`, sessionIDHash).
		Scan(&s.SessionIDHash, &s.OrgID, &s.IdPEntityID, &s.NameID, &s.NameIDFormat, &s.SessionIndex)
	if err != nil {
		return nil, dbError("store.FindSAMLSession", notFoundIfNoRows(err, "SSO session"))
	}
	return &s, nil
}

// DeleteSAMLSessions ends the sessions of an IdP subject, all of them or
// only those of the given session indexes.
//
// Security-sensitive: this is what an IdP's LogoutRequest does.
func (db *DB) DeleteSAMLSessions(ctx context.Context, orgID int64, idpEntityID, nameID string, sessionIndexes []string) (int64, error) {
	q := `DELETE FROM sessions WHERE id_hash IN (SELECT session_id_hash FROM saml_sessions
		WHERE org_id = ? AND idp_entity_id = ? AND name_id = ?`
	args := []any{orgID, idpEntityID, nameID}
	if len(sessionIndexes) > 0 {
		q += " AND session_index IN (" + strings.TrimSuffix(strings.Repeat("?,", len(sessionIndexes)), ",") + ")"
		for _, si := range sessionIndexes {
			args = append(args, si)
		}
	}
	res, err := db.writer().exec(ctx, q+")", args...)
	if err != nil {
		return 0, dbError("store.DeleteSAMLSessions", err)
	}
	n, err := res.RowsAffected()
	return n, dbError("store.DeleteSAMLSessions", err)
}
