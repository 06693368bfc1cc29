<?php
/*
 * The service provider under test, registered with Glossa's
 * internal/idptest SimpleSAMLphp IdP. Its metadata XML (as the SP serves it)
 * is parsed by SimpleSAMLphp's own metadata parser, exactly as an operator
 * importing it would; the options chosen by the test (signing, encryption,
 * request validation) are merged on top.
 */
$glossa = json_decode(file_get_contents(dirname(__DIR__) . '/idptest.json'), true);

$entities = \SimpleSAML\Metadata\SAMLParser::parseDescriptorsFile(dirname(__DIR__) . '/sp-metadata.xml');
foreach ($entities as $entityID => $entity) {
    $sp = $entity->getMetadata20SP();
    if ($sp === null) {
        continue;
    }
    $metadata[$entityID] = array_merge($sp, $glossa['spOptions']);
}
