"""The trail of one change (``GET /v1/trail/{id}``): its decision, approval, run and DORA facts
linked into one record, each as the service that owns it answers; and its postmortem draft."""
