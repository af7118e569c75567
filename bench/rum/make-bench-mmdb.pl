#!/usr/bin/env perl
# A GeoLite2-City-shaped database for bench/rum: NETS IPv4 /24 networks over
# 1,000 made-up cities, each record with names in 8 languages, geoname ids,
# location, postal code and continent, as GeoLite2-City records carry (so the
# lookup decodes records of a realistic size), plus an isp. Needs Debian's
# libmaxmind-db-writer-perl. Usage: perl make-bench-mmdb.pl OUT.mmdb [NETS]
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($out, $nets) = @ARGV;
$nets ||= 50000;
my %types = (
    city => 'map', country => 'map', continent => 'map', location => 'map', postal => 'map',
    subdivisions => ['array', 'map'], names => 'map', geoname_id => 'uint32',
    latitude => 'double', longitude => 'double', accuracy_radius => 'uint16', time_zone => 'utf8_string',
    code => 'utf8_string', iso_code => 'utf8_string', isp => 'utf8_string',
    map { $_ => 'utf8_string' } qw(de en es fr ja pt-BR ru zh-CN),
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 28, database_type => 'telekit-bench-City', languages => ['en'],
    description => { en => 'telekit bench database (made-up places)' },
    map_key_type_callback => sub { $types{ $_[0] } }, alias_ipv6_to_ipv4 => 1, remove_reserved_networks => 0,
);
sub names { my $n = shift; my %h = map { ($_ => "$n ($_)") } qw(de es fr ja pt-BR ru zh-CN); $h{en} = $n; return \%h }
my @cities = map {
    my $c = $_;
    {
        city => { geoname_id => 100000 + $c, names => names("City $c") },
        continent => { code => 'AS', geoname_id => 6255147, names => names('Asia') },
        country => { geoname_id => 1814991 + ($c % 20), iso_code => sprintf('C%02d', $c % 20), names => names('Country ' . ($c % 20)) },
        location => { accuracy_radius => 50, latitude => 30.5 + $c / 1000, longitude => 114.3 + $c / 1000, time_zone => 'Asia/Shanghai' },
        postal => { code => sprintf('%06d', $c) },
        subdivisions => [ { geoname_id => 200000 + ($c % 100), iso_code => 'P' . ($c % 100), names => names('Province ' . ($c % 100)) } ],
        isp => 'ISP ' . ($c % 50),
    }
} 0 .. 999;
for my $i (0 .. $nets - 1) {
    my $net = sprintf('%d.%d.%d.0/24', 1 + int($i / 65536) % 200, int($i / 256) % 256, $i % 256);
    $tree->insert_network($net, $cities[$i % 1000]);
}
open my $fh, '>:raw', $out or die "$out: $!";
$tree->write_tree($fh);
close $fh;
