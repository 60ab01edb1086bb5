// A real FHIR R4 server (@asymmetrik/node-fhir-server-core) for medsurface's tests, on loopback.
//
//   node server.js PORT MODE PATIENTS_JSON
//
// MODE open:   anyone may search; no security declared in the CapabilityStatement.
// MODE locked: searches need a bearer token (every token is refused: 401); the
//              CapabilityStatement declares SMART-on-FHIR, as the framework does.
// PATIENTS_JSON lists synthetic canary patients ({id, family, given}). Searches ignore
// `_summary` (as this framework does), so `_summary=count` returns whole records: the test
// proves medsurface keeps only `total`.
'use strict';
const path = require('path');
const fs = require('fs');
const { initialize, constants } = require('@asymmetrik/node-fhir-server-core');

const [port, mode, patientsFile] = process.argv.slice(2);
if (!port || !['open', 'locked'].includes(mode) || !patientsFile) {
  console.error('usage: node server.js PORT open|locked PATIENTS_JSON');
  process.exit(2);
}
process.env.MEDSURFACE_PATIENTS = path.resolve(patientsFile);

const config = {
  profiles: {
    patient: {
      service: path.resolve(__dirname, 'patient.service.js'),
      versions: [constants.VERSIONS['4_0_1']],
    },
  },
  server: { port: Number(port) },
  logging: { level: 'error' },
};
if (mode === 'locked') {
  config.auth = {
    strategy: { name: 'bearer', service: path.resolve(__dirname, 'strategy.js'), useSession: false },
  };
  config.security = [
    { url: 'authorize', valueUri: 'http://127.0.0.1/authorize' },
    { url: 'token', valueUri: 'http://127.0.0.1/token' },
  ];
}

const server = initialize(config);
server.listen(Number(port), '127.0.0.1', () => {
  process.stdout.write(`fhir ${mode} listening on 127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
