<?php
/*
 * Authentication sources for Glossa's internal/idptest SimpleSAMLphp IdP: one
 * exampleauth:UserPass source whose users (username, password, attributes)
 * come from idptest.json. Attribute names are the plain ones Glossa's
 * "custom" preset expects: uid, email, givenName, sn, groups (multi-valued).
 */
$glossa = json_decode(file_get_contents(__DIR__ . '/idptest.json'), true);

$users = [];
foreach ($glossa['users'] as $u) {
    $attributes = ['uid' => [$u['username']]];
    if ($u['email'] !== '') {
        $attributes['email'] = [$u['email']];
    }
    if ($u['firstName'] !== '') {
        $attributes['givenName'] = [$u['firstName']];
    }
    if ($u['lastName'] !== '') {
        $attributes['sn'] = [$u['lastName']];
    }
    if (!empty($u['groups'])) {
        $attributes['groups'] = $u['groups'];
    }
    foreach ($u['attributes'] ?? [] as $name => $values) {
        $attributes[$name] = $values;
    }
    // exampleauth:UserPass keys users by "username:password" and splits at
    // the first colon, so a username must not contain one (Go checks).
    $users[$u['username'] . ':' . $u['password']] = $attributes;
}

$config = [
    'example-userpass' => array_merge(['exampleauth:UserPass'], $users),
];
