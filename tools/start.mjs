// `npm start`: the one-command demo (`netpay demo`) lands with the vendor and web packages. Until then this
// says how to run what exists.
console.log(`NetPay: the protocol, the stand-in bank and the broker are in place; the vendors and web apps that
\`npm start\` will run next are not built yet. To run the services now:

  npm run netpay -- bank start --exponent 4
  npm run netpay -- broker start --dev --bank http://127.0.0.1:4100

  npm test        lint, type-check and run every test (PGlite and a real PostgreSQL)
  npm run bench   benchmarks as one JSON object
  docs/           protocol.md, broker.md, signed-requests.md`);
