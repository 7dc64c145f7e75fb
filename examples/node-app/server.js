// A tiny web server: / answers JSON with the version and the uptime (formatted by `ms`, the
// dependency npm installed), /health answers the HEALTHCHECK.
const http = require("http");
const ms = require("ms");

const started = Date.now();
const server = http.createServer((req, res) => {
  if (req.url === "/health") {
    res.end("ok");
    return;
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({
    app: "node-app",
    version: process.env.APP_VERSION || "dev",
    uptime: ms(Date.now() - started + 1000),
  }));
});
server.listen(3000, "0.0.0.0");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
