#!/bin/sh
# callers-git.sh - real git send-email sends a two-patch series through
# smtpfwd (--smtp-server=PATH makes git run it as sendmail).
#
# Checks git's argv shape (doc/callers.md: PATH -i RCPT..., no "--"), that the two
# messages arrive in order, each in its own transaction with its own MAIL
# FROM and RCPTs, with git's headers (the second threaded to the first), the
# patch bodies intact and CRLF everywhere; that --envelope-sender arrives as
# -f and becomes MAIL FROM; and that when the server refuses the first
# message, smtpfwd's non-zero exit stops the series.
# TAP (tests/callers-lib.sh); skipped when git send-email is absent or unable to run (a Perl
# module missing).
here=${top_srcdir:+$top_srcdir/tests}
. "${here:-$(dirname "$0")}/callers-lib.sh"
cl_init git
if ! git send-email -h >/dev/null 2>&1 && [ ! -x "$(git --exec-path)/git-send-email" ]; then
    skip_all "git send-email is not installed"
fi

cat >"$HOME/.gitconfig" <<EOF
[user]
	name = Pat Dev
	email = pat@x.test
[init]
	defaultBranch = main
[sendemail]
	confirm = never
	suppresscc = self
EOF

# A scratch repository with two commits, and their patches.
repo=$tmp/repo
mkdir "$repo" && cd "$repo" || exit 99
git init -q . || exit 99
printf 'one\n' >file.txt
git add file.txt && git commit -q -m "Add file" || exit 99
printf '.\n.dot-leading line\ntwo\n' >>file.txt
git commit -q -a -m "Extend file" -m "A body paragraph." -m ".leading dot" -m "." \
    -m "after the lone dot" || exit 99
git format-patch -q -o "$tmp/patches" --root HEAD || exit 99
set -- "$tmp"/patches/*.patch
[ $# -eq 2 ] || { echo "Bail out! format-patch made $# patches"; exit 99; }
p1=$1
p2=$2
# The body of a patch file: everything after its first empty line.
awk 'b { print } !b && $0 == "" { b = 1 }' "$p1" >"$tmp/body1"
awk 'b { print } !b && $0 == "" { b = 1 }' "$p2" >"$tmp/body2"

# git send-email needs Perl modules that git-email only recommends
# (Mail::Address from libmailtools-perl): when a dry run of the series
# cannot even parse the addresses, git send-email cannot run here.
if ! git send-email --dry-run --to=to@x.test --cc=cc@x.test --confirm=never \
        --smtp-server=/bin/false --no-validate --quiet "$p1" >"$tmp/dry-run" 2>&1; then
    skip_all "git send-email cannot run here (install libmailtools-perl?): $(grep . "$tmp/dry-run" | head -n 1)"
fi

CL_FROM=pat@x.test

# 1. The series is delivered, one transaction per patch, in order.
cl_server <<'EOF'
# defaults: everything accepted
EOF
cl_run "git send-email" git send-email --to=to@x.test --cc=cc@x.test \
    --confirm=never --smtp-server="$tmp/sendmail" --no-validate --quiet \
    "$p1" "$p2"
cl_server_stop
cl_check "git send-email exits 0" "git send-email exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 2
cl_argv 1 -i to@x.test cc@x.test
cl_argv 2 -i to@x.test cc@x.test
cl_smtpfwd_status 1 0
cl_smtpfwd_status 2 0
cl_smtpfwd_quiet 1
cl_smtpfwd_quiet 2
cl_txn_count 2
cl_envelope 1 pat@x.test to@x.test cc@x.test
cl_envelope 2 pat@x.test to@x.test cc@x.test
cl_complete 1
cl_complete 2
c=$(grep -c -i '^MAIL FROM:' "$tmp/commands")
q=$(grep -c -i '^QUIT' "$tmp/commands")
cl_check "two sessions, each with its own MAIL FROM and QUIT" \
    "expected two sessions each with its own MAIL FROM and QUIT, saw $c MAIL and $q QUIT" \
    [ "$c" -eq 2 -a "$q" -eq 2 ]
conns=$(grep -c '^connection ' "$tmp/events" 2>/dev/null)
cl_check "the server sees 2 connections" "expected 2 connections, the server saw ${conns:-0}" \
    [ "${conns:-0}" -eq 2 ]
for n in 1 2; do
    cl_header $n "From: Pat Dev <pat@x.test>"
    cl_header $n "To: to@x.test"
    cl_header $n "Cc: cc@x.test"
    cl_header $n "X-Mailer: git-send-email $(git --version | sed 's/^git version //')"
    cl_header_count $n Date 1
    cl_header_count $n Message-ID 1
    cl_header_count $n Bcc 0
done
cl_header 1 "Subject: [PATCH 1/2] Add file"
cl_header 2 "Subject: [PATCH 2/2] Extend file"
id1=$(cl_header_value 1 Message-ID)
irt2=$(cl_header_value 2 In-Reply-To)
if [ -z "$id1" ] || [ "$id1" != "$irt2" ]; then
    cl_fail "$cl_desc: message 2 is not threaded to message 1 (Message-ID '$id1', In-Reply-To '$irt2'): wrong order?"
else
    cl_ok "$cl_desc: message 2 is threaded to message 1 (In-Reply-To its Message-ID)"
fi
cl_body 1 "$tmp/body1"
cl_body 2 "$tmp/body2"
cl_data_line 2 "..leading dot"
cl_data_line 2 ".."
cl_data_line 2 "+.dot-leading line"
cl_crlf

# 2. With --envelope-sender git passes -f before -i; it wins over the
#    account's from.
cl_server <<'EOF'
EOF
cl_run "git send-email --envelope-sender" git send-email --to=to@x.test \
    --confirm=never --smtp-server="$tmp/sendmail" --no-validate --quiet \
    --envelope-sender=list@x.test "$p1"
cl_server_stop
cl_check "git send-email exits 0" "git send-email exited $cl_status: $(cat "$tmp/out")" [ "$cl_status" -eq 0 ]
cl_calls 1
cl_argv 3 -f list@x.test -i to@x.test
cl_smtpfwd_status 3 0
cl_txn_count 1
cl_envelope 1 list@x.test to@x.test
cl_header 1 "From: Pat Dev <pat@x.test>"
cl_body 1 "$tmp/body1"
cl_crlf

# 3. The first message is refused: smtpfwd exits non-zero and git stops the
#    series (the second patch is never handed to sendmail).
cl_server <<'EOF'
reply RCPT 550 5.7.1 <to@x.test>: Relay access denied
reply DATA 554 5.5.1 Error: no valid recipients
EOF
cl_run "git send-email with recipients refused" git send-email \
    --to=to@x.test --cc=cc@x.test --confirm=never \
    --smtp-server="$tmp/sendmail" --no-validate --quiet "$p1" "$p2"
cl_server_stop
cl_check "git send-email exits non-zero" "git send-email exited 0 although the server refused" [ "$cl_status" -ne 0 ]
cl_calls 1
cl_smtpfwd_status 4 67
cl_txn_count 1
cl_check "no message body is sent" "a message body was sent although no recipient was accepted" \
    [ ! -e "$tmp/txn.1.end" ]

cl_finish
