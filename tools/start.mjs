// `npm start`: the demo (`netpay demo`) lands with the services. Until then this says what there is.
console.log(`NetPay: the protocol core (@netpay/protocol) is in place; the bank, broker, vendor and web apps
that \`npm start\` will run are not built yet.

  npm test        lint, type-check and run every test
  npm run bench   protocol benchmarks as one JSON object
  docs/protocol.md  the wire protocol`);
