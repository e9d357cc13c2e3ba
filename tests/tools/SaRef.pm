# SaRef.pm - what the SpamAssassin reference dumpers (sa_*.pl) share: a
# SpamAssassin with no network and no user prefs, the dump format's
# string escaping, and reading a message file as SpamAssassin's tools do.
package SaRef;
use strict;
use warnings;
use Exporter qw(import);
use Mail::SpamAssassin;

our @EXPORT_OK = qw(new_sa esc read_message);

# A SpamAssassin over RULES (the site folder SITE, post-config text POST)
# with everything that would reach out or read a user's files off.
sub new_sa {
	my (%o) = @_;
	my $sa = Mail::SpamAssassin->new({
		rules_filename => $o{rules},
		site_rules_filename => $o{site} // '/nonexistent',
		userprefs_filename => '/dev/null',
		(defined $o{post} ? (post_config_text => $o{post}) : ()),
		dont_copy_prefs => 1,
		local_tests_only => 1,
		use_user_prefs => 0,
	});
	$sa->init(1);
	return $sa;
}

# The dump format the C dumpers read: octets (a Perl character string is
# written as UTF-8), with backslash, LF, CR and NUL as \\ \n \r \0; undef
# is the empty string.
sub esc {
	my ($s) = @_;
	return '' unless defined $s;
	utf8::encode($s) if utf8::is_utf8($s);
	$s =~ s/\\/\\\\/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\r/\\r/g;
	$s =~ s/\0/\\0/g;
	return $s;
}

# The lines of FILE as octets; an mbox "From " first line is dropped
# unless KEEP_FROM (sa-learn keeps it).
sub read_message {
	my ($file, $keep_from) = @_;
	open(my $fh, '<', $file) or die "$file: $!\n";
	binmode $fh;
	my @lines = <$fh>;
	close $fh;
	shift @lines if !$keep_from && @lines && $lines[0] =~ /^From /;
	return \@lines;
}

1;
