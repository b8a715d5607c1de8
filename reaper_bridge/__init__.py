"""OSC doorbell, job spool and REAPER companion scripts for FOA stems."""
