package main

// The wiring of cloud storage: the credential broker (federation), the S3
// connector and its background worker, and the adapter that gives the web
// layer both through web.StorageAccess.

import (
	"context"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/glossa-dev/glossa"
	s3 "github.com/glossa-dev/glossa/connector/s3"
	"github.com/glossa-dev/glossa/federation"
	"github.com/glossa-dev/glossa/labeling"
	"github.com/glossa-dev/glossa/secret"
	"github.com/glossa-dev/glossa/store"
	"github.com/glossa-dev/glossa/web"
)

// storageAccess is web.StorageAccess over the broker and the connector.
type storageAccess struct {
	broker *federation.Broker
	conn   *s3.Connector
}

var _ web.StorageAccess = storageAccess{}

func (a storageAccess) SealSecret(s *glossa.Storage, secretKey, sessionToken string) error {
	return a.broker.SealStaticSecret(s, secretKey, sessionToken)
}

func (a storageAccess) CheckAccess(ctx context.Context, s *glossa.Storage, userID int64) error {
	return a.broker.CheckAccess(ctx, s, userID)
}

func (a storageAccess) Validate(ctx context.Context, s *glossa.Storage, userID int64) error {
	return a.conn.Validate(ctx, s, userID)
}

func (a storageAccess) ReadableFolders(ctx context.Context, s *glossa.Storage, userID int64, folders []string) ([]string, error) {
	return a.conn.ReadableFolders(ctx, s, userID, folders)
}

func (a storageAccess) MediaURL(ctx context.Context, s *glossa.Storage, userID int64, key string) (string, error) {
	return a.conn.MediaURL(ctx, s, userID, key)
}

func (a storageAccess) OpenMedia(ctx context.Context, s *glossa.Storage, userID int64, key, rangeHeader string) (*web.Media, error) {
	body, info, err := a.conn.OpenMedia(ctx, s, userID, key, rangeHeader)
	if err != nil {
		return nil, err
	}
	return &web.Media{Body: body, ContentType: info.ContentType, ContentLength: info.ContentLength,
		ContentRange: info.ContentRange, ETag: info.ETag, Partial: info.StatusPartial}, nil
}

func (a storageAccess) Kick() { a.conn.Kick() }

// newStorage builds the broker and the connector of a serving process.
func newStorage(cfg *Config, db *store.DB, sealer *secret.Sealer, logger *slog.Logger) storageAccess {
	broker := &federation.Broker{
		Store: db, Sealer: sealer, Audit: db,
		STSEndpoint: cfg.STSEndpoint,
		Logger:      logger.With("component", "federation"),
	}
	if p := cfg.awsPrincipal(); p != nil {
		broker.Principal = p
	}
	conn := &s3.Connector{
		Creds: broker, Store: db, Annotations: db, Audit: db,
		DataKeys: blobDataKeys{db},
		Logger:   logger.With("component", "storage"),
	}
	return storageAccess{broker: broker, conn: conn}
}

// blobDataKeys names the task data field of a blob-URL sync the way Label
// Studio does: the $variable of the project's first object tag ("image"
// for <Image value="$image"/>).
type blobDataKeys struct{ projects glossa.ProjectService }

func (k blobDataKeys) BlobDataKey(ctx context.Context, s *glossa.Storage) (string, error) {
	p, err := k.projects.FindProjectByID(ctx, s.OrgID, s.ProjectID)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(p.LabelConfig) == "" {
		return "", nil // the connector's default
	}
	cfg, err := labeling.ParseConfig(p.LabelConfig)
	if err != nil {
		return "", nil // a project saved with an older, laxer check: the default
	}
	return cfg.FirstObjectDataKey(), nil
}

// awsPrincipal is Glossa's own AWS identity for the assume_role and broker
// modes, from GLOSSA_AWS_ACCESS_KEY_ID and GLOSSA_AWS_SECRET_ACCESS_KEY
// (and GLOSSA_AWS_SESSION_TOKEN); nil when they are not set. The keys are
// read from the environment only: a flag would show them in ps.
func (c *Config) awsPrincipal() aws.CredentialsProvider {
	if c.AWSAccessKeyID == "" || c.AWSSecretAccessKey == "" {
		return nil
	}
	return credentials.NewStaticCredentialsProvider(c.AWSAccessKeyID, c.AWSSecretAccessKey, c.AWSSessionToken)
}
