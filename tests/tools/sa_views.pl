#!/usr/bin/perl
# sa_views.pl - SpamAssassin's reference for scoring/msgview.c.
#
# usage: sa_views.pl [-r RULES_DIR] [-e ENVFROM] [-q REQFILE] MESSAGE...
#
# For each MESSAGE (an mbox "From " first line is dropped) prints
# "== PATH" and then, in the format scoring/mvdump prints:
#   B <line>                    get_decoded_stripped_body_text_array()
#   R <paragraph>               get_decoded_body_text_array()
#   G <req> TAB <0|1> TAB <v>   $pms->get(req) in list context, joined as
#                               Plugin/Check.pm's do_head_tests joins it
#   M <n> TAB <req> TAB <0|1> TAB <v>
#                               what Plugin/MIMEHeader.pm looks at on part n
#                               (find_parts(qr/./) order, 1 = the message)
#   H <uri>                     the URIs HTML.pm collected (uri_detail keys)
#   U <uri>                     get_uri_list(), sorted
# REQFILE holds "g REQ" and "m REQ" lines (tests/tools/views_requests.txt).
# Strings are escaped: backslash, LF, CR and NUL as \\ \n \r \0.
# As in check(), X-Spam-* headers are deleted before the metadata is
# extracted.  -e adds "Return-Path: <ENVFROM>" on top, as an MTA does at
# final delivery (lmtpd passes MAIL FROM to msgview_new for that).
# No rules run, no network.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use SaRef qw(new_sa esc read_message);
use Mail::SpamAssassin;
use Mail::SpamAssassin::PerMsgStatus;

my $rules = '/usr/share/spamassassin';
my $envfrom;
my (@greq, @mreq);
while (@ARGV && $ARGV[0] =~ /^-[req]$/) {
	my $opt = shift @ARGV;
	my $val = shift @ARGV;
	defined $val or die "$opt needs a value\n";
	if ($opt eq '-r') {
		$rules = $val;
	} elsif ($opt eq '-e') {
		$envfrom = $val;
	} else {
		open(my $q, '<', $val) or die "$val: $!\n";
		while (<$q>) {
			chomp;
			next if /^\s*(?:#|$)/;
			if (/^g (.+)$/) { push @greq, $1; }
			elsif (/^m (.+)$/) { push @mreq, $1; }
		}
		close $q;
	}
}
@ARGV or die "usage: $0 [-r RULES_DIR] [-e ENVFROM] [-q REQFILE] MESSAGE...\n";

my $sa = new_sa(rules => $rules);


binmode STDOUT;
for my $file (@ARGV) {
	my @lines = @{read_message($file)};
	unshift @lines, "Return-Path: <$envfrom>\n" if defined $envfrom;

	my $msg = $sa->parse(\@lines, 1);
	my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
	$msg->delete_header('X-Spam-.*');
	$pms->extract_message_metadata();

	print "== $file\n";
	print 'B ', esc($_), "\n" for @{$pms->get_decoded_stripped_body_text_array()};
	print 'R ', esc($_), "\n" for @{$pms->get_decoded_body_text_array()};
	for my $req (@greq) {
		my @harr = $pms->get($req);
		my $v = @harr ? join($harr[0] =~ /\n\z/ ? "" : "\n", @harr) : '';
		print 'G ', $req, "\t", (@harr ? 1 : 0), "\t", esc($v), "\n";
	}
	my $idx = 0;
	for my $p ($msg->find_parts(qr/./)) {
		$idx++;
		for my $req (@mreq) {
			my $hdr = $req;
			my $getraw = ($hdr =~ s/:raw$//) ? 1 : 0;
			my $val;
			if ($hdr eq 'ALL') {
				$val = $p->get_all_headers($getraw, 0);
			} elsif ($getraw) {
				$val = $p->raw_header($hdr);
			} else {
				$val = $p->get_header($hdr);
			}
			print 'M ', $idx, "\t", $req, "\t", (defined $val ? 1 : 0), "\t", esc($val), "\n";
		}
	}
	for my $html (@{$msg->{metadata}->{html_all} || []}) {
		print 'H ', esc($_), "\n" for keys %{$html->{uri_detail} || {}};
	}
	print 'U ', esc($_), "\n" for sort $pms->get_uri_list();

	$pms->finish();
	$msg->finish();
}
