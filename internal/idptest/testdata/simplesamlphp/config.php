<?php
/*
 * SimpleSAMLphp configuration for one throwaway identity provider started by
 * Glossa's internal/idptest package. Nothing here is a secret: the values come
 * from idptest.json, written next to this file by the Go code, and the whole
 * directory lives in the test's temporary directory.
 *
 * Deliberate differences from Debian's /etc/simplesamlphp/config.php:
 * absolute base URL on 127.0.0.1, every writable path inside the temporary
 * directory, file logging at DEBUG with the SAML messages, cookies without the
 * Secure flag (the IdP is served over plain HTTP on loopback) and with names
 * unique to this instance (cookies ignore ports, so two IdPs on 127.0.0.1
 * would otherwise share them), the SAML 2.0 IdP and exampleauth enabled.
 */
$glossa = json_decode(file_get_contents(__DIR__ . '/idptest.json'), true);

$config = [
    'baseurlpath' => $glossa['baseURL'] . '/',
    'certdir' => $glossa['dir'] . '/cert/',
    'loggingdir' => $glossa['dir'] . '/log/',
    'datadir' => $glossa['dir'] . '/data/',
    'tempdir' => $glossa['dir'] . '/tmp',
    'metadatadir' => __DIR__ . '/metadata/',
    'metadata.sources' => [
        ['type' => 'flatfile', 'directory' => __DIR__ . '/metadata'],
    ],

    'technicalcontact_name' => 'Glossa idptest',
    'technicalcontact_email' => 'idptest@example.com',
    'timezone' => 'UTC',

    'secretsalt' => $glossa['secretSalt'],
    'auth.adminpassword' => $glossa['adminPassword'],
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,

    // Where SimpleSAMLphp may send the browser (ReturnTo of an IdP-initiated
    // logout, for one): the hosts of the SP's endpoints.
    'trusted.url.domains' => $glossa['trustedHosts'],
    'enable.http_post' => false,
    'assertion.allowed_clock_skew' => 180,

    'debug' => [
        'saml' => true,
        'backtraces' => true,
        'validatexml' => false,
    ],
    'showerrors' => true,
    'errorreporting' => false,

    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'logging.processname' => 'simplesamlphp',
    'statistics.out' => [],

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,

    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
    ],

    'session.duration' => 8 * 60 * 60,
    'session.cookie.name' => $glossa['cookiePrefix'] . 'SessionID',
    'session.cookie.path' => '/',
    'session.cookie.domain' => null,
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.cookiename' => $glossa['cookiePrefix'],
    'session.phpsession.savepath' => $glossa['dir'] . '/sessions',
    'session.phpsession.httponly' => true,
    'session.authtoken.cookiename' => $glossa['cookiePrefix'] . 'AuthToken',
    'session.rememberme.enable' => false,
    'store.type' => 'phpsession',

    'language.default' => 'en',
    'language.parameter.setcookie' => false,
    'language.cookie.name' => $glossa['cookiePrefix'] . 'Language',
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,

    'theme.use' => 'default',
    'production' => true,
];
