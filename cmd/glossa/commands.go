package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
	"github.com/glossa-dev/glossa/saml"
	"github.com/glossa-dev/glossa/secret"
	"github.com/glossa-dev/glossa/store"
	"github.com/glossa-dev/glossa/web"
)

// parseFlags parses args, writing flag errors and -h to stderr.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// openStore opens and migrates the database.
func openStore(ctx context.Context, cfg *Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// serve runs the HTTP server until ctx ends.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("glossa serve", flag.ContinueOnError)
	cfg.bindServe(fs, getenv)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := cfg.Validate(true); err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel)
	sealer, err := secret.LoadOrCreateKey(cfg.DataDir, getenv)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	fetcher := &saml.MetadataFetcher{AllowPrivate: cfg.MetadataAllowPrivate}
	storage := newStorage(&cfg, db, sealer, logger)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := &web.Server{
		Orgs: db, Members: db, Workspaces: db, Projects: db, Tasks: db, Annotations: db,
		Sessions: db, Tokens: db, Audit: db, SSO: db, Storages: db, Labeling: db, DB: db,
		Throttle:   &auth.Throttle{Store: db},
		SAML:       &samlProviders{store: db, sealer: sealer, baseURL: cfg.baseURL(), now: time.Now},
		Metadata:   metadataFetcher{fetcher},
		Logger:     logger,
		Metrics:    reg,
		BaseURL:    cfg.baseURL(),
		TrustProxy: cfg.TrustProxy,
		Storage:    storage,
		AfterSSO:   storage.broker.AfterSSO,
	}
	n, err := db.CountOrganizations(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		token := auth.NewCSRFToken()
		srv.SetSetupToken(token)
		fmt.Fprintf(stdout, "\nGlossa has no organization yet. Open this one-time link to create the first one and its Owner:\n\n    %s/setup?token=%s\n\n", cfg.baseURL(), token)
	}
	go purgeExpired(ctx, time.Hour, "sessions", db.DeleteExpiredSessions, logger)
	go purgeExpired(ctx, time.Hour, "used SAML assertion IDs", db.DeleteExpiredAssertions, logger)
	// Cloud credentials are useless once expired and, sealed or not, a
	// secret kept is a secret that can leak: they go sooner.
	go purgeExpired(ctx, 10*time.Minute, "cloud credentials", db.DeleteExpiredPersonCredentials, logger)
	go refreshMetadata(ctx, db, fetcher, logger)
	go storage.conn.Run(ctx)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server running there? choose another with --addr)", cfg.Addr, err)
	}
	if u := cfg.baseURL(); u.Scheme != "https" && !isLoopbackHost(u.Hostname()) {
		logger.Warn("the base URL is plain HTTP: cookies are not Secure, and SAML sign-in from an IdP on another site fails (browsers do not send the sign-in's cookie with its cross-site POST); serve Glossa on HTTPS and set --base-url", "base_url", u.String())
	}
	logger.Info("glossa listening", "addr", ln.Addr().String(), "base_url", cfg.baseURL().String(), "db", db.Dialect(), "version", version)
	return srv.ListenAndServe(ctx, ln, 30*time.Second)
}

// purgeExpired deletes what has expired (sessions, used assertion IDs,
// cloud credentials: what) with del, now and every interval until ctx
// ends. Several processes may do it at once; the deletes are idempotent.
func purgeExpired(ctx context.Context, every time.Duration, what string, del func(context.Context, time.Time) (int64, error), logger *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if n, err := del(ctx, time.Now()); err != nil && ctx.Err() == nil {
			logger.Warn("purging expired "+what+" failed", "err", err)
		} else if n > 0 {
			logger.Info("purged expired "+what, "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// isLoopbackHost reports whether host names this machine only.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// migrate applies the migrations and exits.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("glossa migrate", flag.ContinueOnError)
	cfg.bindDB(fs, getenv)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := cfg.Validate(false); err != nil {
		return err
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// readPassword takes a password from a flag or, better (it stays out of
// the process list and shell history), from a file.
func readPassword(flagValue, file string) (string, error) {
	if file == "" {
		return flagValue, nil
	}
	if flagValue != "" {
		return "", errors.New("give the password with a flag or a file, not both")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// orgCreate creates an organization with its Owner and prints their IDs.
func orgCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	var name, slug, email, password, passwordFile string
	fs := flag.NewFlagSet("glossa org create", flag.ContinueOnError)
	cfg.bindDB(fs, getenv)
	fs.StringVar(&name, "name", "", "organization name")
	fs.StringVar(&slug, "slug", "", "organization slug (lower-case letters, digits, hyphens)")
	fs.StringVar(&email, "owner-email", "", "the Owner's email")
	fs.StringVar(&password, "owner-password", "", "the Owner's password")
	fs.StringVar(&passwordFile, "owner-password-file", "", "file holding the Owner's password")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	password, err := readPassword(password, passwordFile)
	if err != nil {
		return err
	}
	var errs []error
	if err := cfg.Validate(false); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(name) == "" {
		errs = append(errs, errors.New("--name is required"))
	}
	if err := glossa.ValidateSlug(slug); err != nil {
		errs = append(errs, fmt.Errorf("--slug: %s", glossa.ErrorMessage(err)))
	}
	if err := glossa.ValidateEmail(email); err != nil {
		errs = append(errs, fmt.Errorf("--owner-email: %s", glossa.ErrorMessage(err)))
	}
	if err := auth.ValidatePassword(password); err != nil {
		errs = append(errs, fmt.Errorf("--owner-password: %s", glossa.ErrorMessage(err)))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	org := &glossa.Organization{Title: strings.TrimSpace(name), Slug: slug}
	owner := &glossa.User{Email: email, PasswordHash: hash}
	if err := db.CreateOrganization(ctx, org, owner); err != nil {
		return userError(err)
	}
	auditCLI(ctx, stderr, db, org.ID, "org.create", "organization", org.ID, map[string]any{"slug": slug, "owner": owner.Email})
	return json.NewEncoder(stdout).Encode(map[string]any{"org_id": org.ID, "slug": org.Slug, "user_id": owner.ID})
}

// userCreate adds a member with a role.
func userCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	var slug, email, roleName, password, passwordFile, first, last string
	fs := flag.NewFlagSet("glossa user create", flag.ContinueOnError)
	cfg.bindDB(fs, getenv)
	fs.StringVar(&slug, "org", "", "organization slug")
	fs.StringVar(&email, "email", "", "the member's email")
	fs.StringVar(&roleName, "role", "", "Owner, Administrator, Manager, Reviewer or Annotator")
	fs.StringVar(&password, "password", "", "password (omit for an SSO-only account)")
	fs.StringVar(&passwordFile, "password-file", "", "file holding the password")
	fs.StringVar(&first, "first-name", "", "first name")
	fs.StringVar(&last, "last-name", "", "last name")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	password, err := readPassword(password, passwordFile)
	if err != nil {
		return err
	}
	var errs []error
	if err := cfg.Validate(false); err != nil {
		errs = append(errs, err)
	}
	if slug == "" {
		errs = append(errs, errors.New("--org is required: the organization's slug"))
	}
	if err := glossa.ValidateEmail(email); err != nil {
		errs = append(errs, fmt.Errorf("--email: %s", glossa.ErrorMessage(err)))
	}
	role, err := glossa.ParseRole(roleName)
	if err != nil {
		errs = append(errs, fmt.Errorf("--role: %s", glossa.ErrorMessage(err)))
	} else if role == glossa.RoleOwner {
		errs = append(errs, errors.New("--role: an organization has exactly one Owner, made by org create; choose Administrator for a second admin"))
	}
	if password != "" {
		if err := auth.ValidatePassword(password); err != nil {
			errs = append(errs, fmt.Errorf("--password: %s", glossa.ErrorMessage(err)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	org, err := db.FindOrganizationBySlug(ctx, slug)
	if err != nil {
		return userError(err)
	}
	u := &glossa.User{OrgID: org.ID, Email: email, FirstName: first, LastName: last}
	if password != "" {
		if u.PasswordHash, err = auth.HashPassword(password); err != nil {
			return err
		}
	}
	if err := db.CreateMember(ctx, u, role); err != nil {
		return userError(err)
	}
	auditCLI(ctx, stderr, db, org.ID, "member.add", "user", u.ID, map[string]any{"email": u.Email, "role": role})
	return json.NewEncoder(stdout).Encode(map[string]any{"user_id": u.ID, "org_id": org.ID, "email": u.Email, "role": role})
}

// tokenCreate prints a new personal API token.
func tokenCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	var slug, email, name string
	var expires time.Duration
	fs := flag.NewFlagSet("glossa token create", flag.ContinueOnError)
	cfg.bindDB(fs, getenv)
	fs.StringVar(&email, "email", "", "the member's email")
	fs.StringVar(&slug, "org", "", "organization slug (needed when the email has accounts in several)")
	fs.StringVar(&name, "name", "cli", "a name to recognize the token by")
	fs.DurationVar(&expires, "expires", 720*time.Hour, "lifetime, e.g. 720h")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	var errs []error
	if err := cfg.Validate(false); err != nil {
		errs = append(errs, err)
	}
	if err := glossa.ValidateEmail(email); err != nil {
		errs = append(errs, fmt.Errorf("--email: %s", glossa.ErrorMessage(err)))
	}
	if expires <= 0 || expires > 366*24*time.Hour {
		errs = append(errs, errors.New("--expires: must be between 1s and 8784h (366 days)"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	var m *glossa.Member
	if slug != "" {
		org, err := db.FindOrganizationBySlug(ctx, slug)
		if err != nil {
			return userError(err)
		}
		if m, err = db.FindMemberByEmail(ctx, org.ID, email); err != nil {
			return userError(err)
		}
	} else {
		ms, err := db.FindMembersByEmail(ctx, email)
		if err != nil {
			return err
		}
		switch len(ms) {
		case 0:
			return fmt.Errorf("no member with the email %s", email)
		case 1:
			m = &ms[0]
		default:
			return fmt.Errorf("%s has accounts in %d organizations: add --org SLUG", email, len(ms))
		}
	}
	if !m.Role.Active() {
		return fmt.Errorf("%s is deactivated; reactivate the account first", email)
	}
	exp := time.Now().Add(expires)
	t, secretToken := auth.NewAPIToken(m.OrgID, m.ID, name, exp)
	if err := db.CreateToken(ctx, t); err != nil {
		return userError(err)
	}
	auditCLI(ctx, stderr, db, m.OrgID, "token.create", "token", t.ID, map[string]any{"name": name, "for": m.Email, "expires_at": exp})
	fmt.Fprintln(stdout, secretToken)
	return nil
}

// userError shows a store error's safe message rather than its internals.
func userError(err error) error {
	if glossa.ErrorCode(err) == glossa.EINTERNAL {
		return err
	}
	return errors.New(glossa.ErrorMessage(err))
}

// auditCLI records an administrative command in the audit log.
// The change is made; a failure to record it is reported, not hidden.
func auditCLI(ctx context.Context, stderr io.Writer, a glossa.AuditService, orgID int64, action, targetType string, targetID int64, detail map[string]any) {
	detail["via"] = "cli"
	err := a.AppendAudit(ctx, &glossa.AuditEvent{OrgID: orgID, At: time.Now(), Action: action, Outcome: glossa.OutcomeSuccess,
		TargetType: targetType, TargetID: fmt.Sprint(targetID), Detail: detail})
	if err != nil {
		fmt.Fprintf(stderr, "glossa: warning: the audit log did not record %s: %v\n", action, err)
	}
}
