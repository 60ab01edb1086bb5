// Bearer authentication that refuses every token: searches answer 401.
'use strict';
const { Strategy } = require('passport-http-bearer');

module.exports.strategy = new Strategy((_token, done) => done(null, false));
