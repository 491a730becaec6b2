/**
 * The web server's own API (`webApi` of @netpay/api) as this page reads it: config.json and the shops'
 * dashboards, each answer parsed by the contract's schema.
 */
import { createClient, webApi } from '@netpay/api';

/** The client for the site this page came from, relative to the page as its own files are (base `./`). */
export const site = () => createClient(webApi, { url: new URL('.', location.href).href, name: 'this site' });
