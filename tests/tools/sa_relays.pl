#!/usr/bin/perl
# sa_relays.pl - SpamAssassin's reference for scoring/received.c.
#
# usage: sa_relays.pl [-r RULES_DIR] [-c 'CONFIG LINE']... MESSAGE...
#        sa_relays.pl [-r RULES_DIR] [-c 'CONFIG LINE']... -l LINES
#
# For each MESSAGE (an mbox "From " first line is dropped) prints the
# Received-chain metadata SpamAssassin computes, in the format
# tests/tools/relaydump.c prints:
#   file NAME
#   trusted STR
#   untrusted STR
#   internal STR
#   external STR
#   unparseable N
#   last_trusted N
#   last_internal N
# -c adds a configuration line (e.g. 'trusted_networks 10.0.0.0/8') after
# the rules are read.  With -l, each line of the file LINES is the value of
# the one Received header of a message of its own (NAME is "line N").
# Only metadata extraction runs: no rules, no network.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use SaRef qw(new_sa esc read_message);
use Mail::SpamAssassin;
use Mail::SpamAssassin::PerMsgStatus;

my $rules = '/usr/share/spamassassin';
my $post = '';
my $lines;
while (@ARGV && $ARGV[0] =~ /^-[rcl]$/) {
	my $opt = shift @ARGV;
	my $val = shift @ARGV;
	defined $val or die "$opt needs a value\n";
	if ($opt eq '-r') { $rules = $val; }
	elsif ($opt eq '-l') { $lines = $val; }
	else { $post .= "$val\n"; }
}
@ARGV || defined $lines
	or die "usage: $0 [-r RULES_DIR] [-c LINE]... MESSAGE... | -l LINES\n";

my $sa = new_sa(rules => $rules, post => $post);


sub dump_message {
	my ($name, $lines) = @_;
	my $msg = $sa->parse($lines, 1);
	my $pms = Mail::SpamAssassin::PerMsgStatus->new($sa, $msg);
	$pms->extract_message_metadata();
	print "file $name\n";
	for my $k (qw(trusted untrusted internal external)) {
		print "$k ", esc($pms->{"relays_${k}_str"}), "\n";
	}
	print "unparseable $pms->{num_relays_unparseable}\n";
	print "last_trusted $pms->{last_trusted_relay_index}\n";
	print "last_internal $pms->{last_internal_relay_index}\n";
	$pms->finish();
	$msg->finish();
}

binmode STDOUT;
if (defined $lines) {
	open(my $fh, '<', $lines) or die "$lines: $!\n";
	binmode $fh;
	my $n = 0;
	while (my $line = <$fh>) {
		$n++;
		chomp $line;
		dump_message("line $n", ["Received: $line\n", "\n", "body\n"]);
	}
	close $fh;
}
for my $file (@ARGV) {
	dump_message($file, read_message($file));
}
