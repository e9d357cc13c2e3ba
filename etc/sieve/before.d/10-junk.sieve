# Runs before each user's own script (sieve_before = this folder): mail
# that lmtpd's spam scoring rates 5 or more goes to the Junk folder.
# X-Spam-Score is the whole-number score lmtpd adds (a sender's own
# X-Spam-* fields are removed first), so i;ascii-numeric compares it.
# The fileinto ends the sequence, as in Pigeonhole: the user's script runs
# only for mail this script leaves in INBOX.
require ["fileinto", "relational", "comparator-i;ascii-numeric"];

if header :value "ge" :comparator "i;ascii-numeric" "X-Spam-Score" "5" {
  fileinto "Junk";
}
