#!/usr/bin/env node
import { greet } from '@demo/greeter';
import { message } from './message.js';

console.log(message(process.argv.slice(2), greet));
