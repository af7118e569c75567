#!/usr/bin/env perl
# Writes geo-test.mmdb, the tiny MaxMind-format database the rum tests read
# (documentation ranges only, made-up places). Needs Debian's
# libmaxmind-db-writer-perl:  apt-get install libmaxmind-db-writer-perl
#   perl inputs/rum/testdata/make-geo-mmdb.pl inputs/rum/testdata/geo-test.mmdb
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUT.mmdb\n";
my %types = (
    city => 'map', country => 'map', subdivisions => ['array', 'map'], names => 'map',
    en => 'utf8_string', iso_code => 'utf8_string', isp => 'utf8_string',
    autonomous_system_organization => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6,
    record_size => 24,
    database_type => 'telekit-rum-test-City',
    languages => ['en'],
    description => { en => 'telekit rum test database (documentation ranges, made-up places)' },
    map_key_type_callback => sub { $types{ $_[0] } },
    alias_ipv6_to_ipv4 => 1,
    remove_reserved_networks => 0,
);
sub place {
    my ($city, $province, $country, $iso, $isp) = @_;
    return {
        city => { names => { en => $city } },
        subdivisions => [ { names => { en => $province } } ],
        country => { names => { en => $country }, iso_code => $iso },
        isp => $isp,
    };
}
$tree->insert_network('203.0.113.0/24', place('Testville', 'Test Province', 'Testland', 'TL', 'Test ISP'));
$tree->insert_network('198.51.100.0/24', place('Exampleton', 'Example Region', 'Exampleland', 'EL', 'Example Net'));
$tree->insert_network('2001:db8::/32', place('Sixton', 'Six Province', 'Testland', 'TL', 'Six ISP'));
open my $fh, '>:raw', $out or die "$out: $!";
$tree->write_tree($fh);
close $fh;
