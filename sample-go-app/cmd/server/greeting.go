package main

// greeting is the body line served on GET /. Keep it in this one constant:
// editing it is the quickest way to see the development image's live reload.
const greeting = "hello from sample-go-app"
