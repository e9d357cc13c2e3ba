#!/usr/bin/perl
# sa_bayes_tokens.pl - SpamAssassin's Bayes tokens of each message, the
# reference for scoring/bayes_tok.c (tests/tools/cmp_bayes_tokens.py).
#
# usage: sa_bayes_tokens.pl [-r RULES_DIR] MESSAGE...
#
# For each MESSAGE prints "== PATH", then "T <token>" for every distinct
# token Plugin/Bayes.pm learns from it, sorted bytewise: the message parsed
# as sa-learn parses it (its SpamAssassin markup removed first when it has
# an X-Spam-Checker-Version field), get_body_from_msg() (the visible and
# invisible rendered text, the URIs, the metadata for the X-Spam-Relays-*
# pseudo-headers) and tokenize(), whose hash keeps each token's text.
# Tokens are escaped: backslash, LF, CR and NUL as \\ \n \r \0.
# The rules are RULES_DIR (default /usr/share/spamassassin) with Debian's
# .pre files (so the Bayes plugin and its settings load); no network, no
# user prefs, no database is opened.
use strict;
use warnings;
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use FindBin;
use lib $FindBin::Bin;
use SaRef qw(new_sa esc read_message);
use Mail::SpamAssassin;

my $rules = '/usr/share/spamassassin';
while (@ARGV && $ARGV[0] eq '-r') {
	shift @ARGV;
	$rules = shift @ARGV;
	defined $rules or die "-r needs a value\n";
}
@ARGV or die "usage: $0 [-r RULES_DIR] MESSAGE...\n";

my $site = tempdir('sa_bayes_tokens.XXXXXX', TMPDIR => 1, CLEANUP => 1);
opendir(my $d, '/etc/spamassassin') or die "/etc/spamassassin: $!\n";
for my $f (readdir $d) {
	copy("/etc/spamassassin/$f", "$site/$f") if $f =~ /\.pre\z/;
}
closedir $d;
open(my $cf, '>', "$site/local.cf") or die "$site/local.cf: $!\n";
print $cf "use_bayes 1\nbayes_auto_learn 0\nskip_rbl_checks 1\ndns_available no\n";
close $cf;

my $sa = new_sa(rules => $rules, site => $site);
my ($bayes) = grep { ref($_) eq 'Mail::SpamAssassin::Plugin::Bayes' }
	@{$sa->{plugins}->{plugins}};
defined $bayes or die "the Bayes plugin is not loaded\n";


binmode STDOUT;
for my $file (@ARGV) {
	# as sa-learn's wanted()
	my $msg = $sa->parse(read_message($file, 1));
	if ($msg->get_header('X-Spam-Checker-Version')) {
		my $clean = $sa->parse($sa->remove_spamassassin_markup($msg), 1);
		$msg->finish();
		$msg = $clean;
	}
	my $msgdata = $bayes->get_body_from_msg($msg);
	my $toks = $bayes->tokenize($msg, $msgdata);
	print "== $file\n";
	print 'T ', esc($_), "\n" for sort { $a cmp $b } map { my $t = $_;
		utf8::encode($t) if utf8::is_utf8($t); $t } values %$toks;
	$msg->finish();
}
