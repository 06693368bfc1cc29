package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/glossa-dev/glossa/web"
)

// Config is the server's configuration, from flags with environment
// defaults.
type Config struct {
	Addr     string
	DB       string
	BaseURL  string
	DataDir  string
	LogLevel string
	// TrustProxy takes client addresses from X-Forwarded-For.
	TrustProxy bool
	// MetadataAllowPrivate lets IdP metadata URLs point at private and
	// loopback addresses and use plain HTTP (an IdP on an internal network).
	MetadataAllowPrivate bool
	// STSEndpoint is the AWS STS endpoint of storages that name none
	// ("" means AWS's regional endpoint for the storage's region).
	STSEndpoint string
	// Glossa's own AWS identity for the assume_role and broker storage
	// modes; environment only, so that the secret never shows in ps.
	AWSAccessKeyID, AWSSecretAccessKey, AWSSessionToken string
}

// bindDB registers the flags every command that opens the database shares.
func (c *Config) bindDB(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&c.DB, "db", envOr(getenv, "GLOSSA_DB", "sqlite:./glossa.db"), "database: sqlite:PATH or postgres://... (env GLOSSA_DB)")
	fs.StringVar(&c.DataDir, "data-dir", envOr(getenv, "GLOSSA_DATA_DIR", "./glossa-data"), "directory for the master key and SP keys (env GLOSSA_DATA_DIR)")
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "GLOSSA_LOG_LEVEL", "info"), "debug, info, warn or error (env GLOSSA_LOG_LEVEL)")
}

// bindServe registers the server's own flags.
func (c *Config) bindServe(fs *flag.FlagSet, getenv func(string) string) {
	c.bindDB(fs, getenv)
	fs.StringVar(&c.Addr, "addr", envOr(getenv, "GLOSSA_ADDR", "127.0.0.1:8080"), "address to listen on (env GLOSSA_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", getenv("GLOSSA_BASE_URL"), "public URL of this server, e.g. https://glossa.example.com (env GLOSSA_BASE_URL; default http://ADDR)")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", getenv("GLOSSA_TRUST_PROXY") == "true", "take client addresses from X-Forwarded-For (env GLOSSA_TRUST_PROXY=true)")
	fs.BoolVar(&c.MetadataAllowPrivate, "metadata-allow-private", getenv("GLOSSA_METADATA_ALLOW_PRIVATE") == "true",
		"let IdP metadata URLs use plain HTTP and private addresses (env GLOSSA_METADATA_ALLOW_PRIVATE=true)")
	fs.StringVar(&c.STSEndpoint, "sts-endpoint", getenv("GLOSSA_STS_ENDPOINT"),
		"AWS STS endpoint for storages that set none, e.g. https://sts.eu-west-1.amazonaws.com (env GLOSSA_STS_ENDPOINT; default: the storage region's)")
	c.AWSAccessKeyID = getenv("GLOSSA_AWS_ACCESS_KEY_ID")
	c.AWSSecretAccessKey = getenv("GLOSSA_AWS_SECRET_ACCESS_KEY")
	c.AWSSessionToken = getenv("GLOSSA_AWS_SESSION_TOKEN")
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// Validate reports every problem with the configuration at once, one line
// each.
func (c *Config) Validate(serving bool) error {
	var errs []error
	switch {
	case strings.HasPrefix(c.DB, "sqlite:"):
		if strings.TrimPrefix(c.DB, "sqlite:") == "" {
			errs = append(errs, errors.New("--db: give a file after sqlite:, e.g. sqlite:./glossa.db"))
		}
	case strings.HasPrefix(c.DB, "postgres://"), strings.HasPrefix(c.DB, "postgresql://"):
		if _, err := url.Parse(c.DB); err != nil {
			errs = append(errs, errors.New("--db: the PostgreSQL URL does not parse"))
		}
	default:
		errs = append(errs, fmt.Errorf("--db: %q is neither sqlite:PATH nor postgres://...", redactDSN(c.DB)))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir: must not be empty"))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if serving {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("--addr: %q is not host:port", c.Addr))
		}
		if c.BaseURL != "" {
			u, err := url.Parse(c.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				errs = append(errs, fmt.Errorf("--base-url: %q must be an http(s) URL without a path, e.g. https://glossa.example.com", c.BaseURL))
			}
		}
		if c.STSEndpoint != "" {
			if u, err := url.Parse(c.STSEndpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("--sts-endpoint: %q must be an http(s) URL, e.g. https://sts.eu-west-1.amazonaws.com", c.STSEndpoint))
			}
		}
		if (c.AWSAccessKeyID == "") != (c.AWSSecretAccessKey == "") {
			errs = append(errs, errors.New("GLOSSA_AWS_ACCESS_KEY_ID and GLOSSA_AWS_SECRET_ACCESS_KEY: set both or neither"))
		}
	}
	return errors.Join(errs...)
}

// baseURL is the public URL, defaulting to http://ADDR.
func (c *Config) baseURL() *url.URL {
	raw := c.BaseURL
	if raw == "" {
		raw = "http://" + c.Addr
	}
	u, _ := url.Parse(strings.TrimSuffix(raw, "/"))
	return u
}

// redactDSN hides a password in a connection string before it is shown.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return dsn
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger logs JSON when stderr is not a terminal (production, journald,
// containers) and text when a person watches; every line logged with a
// request's context carries its request ID.
func newLogger(w io.Writer, level string) *slog.Logger {
	lvl, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			h = slog.NewTextHandler(w, opts)
		}
	}
	return slog.New(web.LogHandler{Handler: h})
}
