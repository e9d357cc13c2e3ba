#!/usr/bin/perl
# sa_uris.pl - SpamAssassin's reference for scoring/uri.c.
#
# usage: sa_uris.pl [-r RULES_DIR] OUTDIR MESSAGE...
#        sa_uris.pl [-r RULES_DIR] --in OUTDIR FILE.in...
#
# For each MESSAGE (an mbox "From " first line is dropped) writes
#   OUTDIR/NAME.in   the inputs uri_collect() gets: "B <line>" for each
#                    element of get_decoded_stripped_body_text_array(),
#                    "H <uri>" for each raw URI HTML.pm collected
#   OUTDIR/NAME.sa   sorted $pms->get_uri_list(), "U <uri>" per line
# With --in, FILE.in is read instead (the inputs as above; "H" lines are
# taken as UTF-8 characters, as HTML.pm hands them over) and only
# OUTDIR/NAME.sa is written: SpamAssassin's list for exactly those inputs.
# Strings are escaped: backslash, LF, CR and NUL as \\ \n \r \0 (the
# format tests/tools/uridump.c reads and writes).  Only the URI
# collection runs (no rules, no network), so plugin-added URIs (PDFInfo,
# OLEVBMacro) are not included, as uri_collect() does not see them either.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use SaRef qw(new_sa esc read_message);
use Mail::SpamAssassin;
use Mail::SpamAssassin::PerMsgStatus;

my $rules = '/usr/share/spamassassin';
if (@ARGV && $ARGV[0] eq '-r') {
	shift @ARGV;
	$rules = shift @ARGV;
}
my $from_in = 0;
if (@ARGV && $ARGV[0] eq '--in') {
	shift @ARGV;
	$from_in = 1;
}
my $outdir = shift @ARGV or die "usage: $0 [-r RULES_DIR] [--in] OUTDIR FILE...\n";
-d $outdir or mkdir $outdir or die "$outdir: $!\n";

my $sa = new_sa(rules => $rules, site => '/etc/spamassassin');


sub unesc {
	my ($s) = @_;
	$s =~ s/\\(.)/$1 eq 'n' ? "\n" : $1 eq 'r' ? "\r" : $1 eq '0' ? "\0" : $1/ge;
	return $s;
}

sub write_list {
	my ($path, @list) = @_;
	# sorted as the octets they are written as (uridump sorts those);
	# an octet string from the text and the same characters from HTML
	# are two entries for Perl, one for lmtpd (everything is UTF-8)
	my %u;
	for my $s (@list) {
		utf8::encode($s) if utf8::is_utf8($s);
		$u{$s} = 1;
	}
	open(my $out, '>', $path) or die "$path: $!\n";
	binmode $out;
	print $out 'U ', esc($_), "\n" for sort keys %u;
	close $out or die "$path: $!\n";
}

if ($from_in) {
	for my $file (@ARGV) {
		my (@body, %html);
		open(my $fh, '<', $file) or die "$file: $!\n";
		binmode $fh;
		while (my $line = <$fh>) {
			chomp $line;
			if ($line =~ s/^B //) {
				push @body, unesc($line);
			} elsif ($line =~ s/^H //) {
				my $u = unesc($line);
				utf8::decode($u);
				$html{$u} = { types => { a => 1 } };
			}
		}
		close $fh;
		my $msg = $sa->parse(["Subject: x\n", "\n", "x\n"], 1);
		$msg->{text_rendered} = \@body;
		$msg->{metadata}->{html_all} = [ { uri_detail => \%html } ];
		my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
		(my $name = $file) =~ s{.*/}{};
		$name =~ s/\.in$//;
		write_list("$outdir/$name.sa", $pms->get_uri_list());
		$pms->finish();
		$msg->finish();
	}
	exit 0;
}

for my $file (@ARGV) {
	my @lines = @{read_message($file)};

	my $msg = $sa->parse(\@lines, 1);
	my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
	my @uris = $pms->get_uri_list();

	(my $name = $file) =~ s{.*/}{};
	$name =~ s/\.txt$//;
	open(my $in, '>', "$outdir/$name.in") or die "$outdir/$name.in: $!\n";
	binmode $in;
	print $in 'B ', esc($_), "\n" for @{$pms->get_decoded_stripped_body_text_array()};
	for my $html (@{$msg->{metadata}->{html_all} || []}) {
		print $in 'H ', esc($_), "\n" for sort keys %{$html->{uri_detail} || {}};
	}
	close $in or die "$outdir/$name.in: $!\n";
	write_list("$outdir/$name.sa", @uris);

	$pms->finish();
	$msg->finish();
}
