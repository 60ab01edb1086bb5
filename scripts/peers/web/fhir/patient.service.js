// Patient search over the synthetic canary patients named in $MEDSURFACE_PATIENTS.
'use strict';
const fs = require('fs');
const { resolveSchema } = require('@asymmetrik/node-fhir-server-core');

const planted = JSON.parse(fs.readFileSync(process.env.MEDSURFACE_PATIENTS, 'utf8'));

function patients(version) {
  const Patient = resolveSchema(version, 'patient');
  return planted.map(
    (p) =>
      new Patient({
        id: p.id,
        identifier: [{ system: 'urn:medsurface:canary', value: p.id }],
        name: [{ family: p.family, given: [p.given] }],
        birthDate: '1970-01-01',
      })
  );
}

module.exports.search = async (args) => {
  let list = patients(args.base_version);
  if (args._id) {
    list = list.filter((p) => p.id === args._id);
  }
  return list;
};

module.exports.searchById = async (args) => patients(args.base_version).find((p) => p.id === args.id);
