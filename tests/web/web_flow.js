// Drives the casedesk web UI in Debian's headless Chromium with playwright-core (never a
// downloaded browser). Called by tests/integration/test_web.py:
//   node web_flow.js CONFIG.json
// CONFIG: {base, user, password, answer_ref, xss_ref, answer_text, screenshots}
// Prints one JSON object with what it saw; the Python test asserts on it. Exit 1 on a driver error.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const out = { steps: [] };
  const step = (name, value) => { out[name] = value; out.steps.push(name); };

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    const dialogs = [];
    page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
    const consoleErrors = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });

    // Not signed in: pages redirect to the sign-in form, actions are refused.
    const anon = await context.request.get(cfg.base + '/queue', { maxRedirects: 0 });
    step('anon_queue_status', anon.status());
    step('anon_queue_location', anon.headers()['location'] || '');
    const anonPost = await context.request.post(cfg.base + '/case/' + cfg.answer_ref + '/claim',
                                                { form: { csrf: 'x' }, maxRedirects: 0 });
    step('anon_claim_status', anonPost.status());

    // Sign in through the form.
    await page.goto(cfg.base + '/queue');
    step('login_url', page.url());
    await page.fill('input[name=user]', cfg.user);
    await page.fill('input[name=password]', cfg.password);
    await Promise.all([page.waitForURL('**/queue'), page.click('button[type=submit]')]);
    step('after_login_url', page.url());
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'casedesk_session') || {};
    step('cookie_http_only', !!session.httpOnly);
    step('cookie_same_site', session.sameSite || '');
    step('queue_has_answer_case', await page.locator('td.ref', { hasText: cfg.answer_ref }).count() > 0);
    step('queue_has_xss_case', await page.locator('td.ref', { hasText: cfg.xss_ref }).count() > 0);
    await page.screenshot({ path: path.join(cfg.screenshots, 'web-queue.png'), fullPage: false });

    // A case whose mail carries <script>: shown as text, nothing runs.
    await page.goto(cfg.base + '/case/' + cfg.xss_ref);
    const mailText = await page.locator('pre.mailtext').first().innerText();
    step('xss_text_visible', mailText.includes('<script>alert("casedesk-xss")</script>'));
    step('xss_script_elements', await page.locator('pre.mailtext script').count());
    step('xss_title_text', (await page.locator('h1').innerText()).includes('<b>'));

    // A POST without the CSRF token, with the session cookie: refused.
    const noToken = await context.request.post(cfg.base + '/case/' + cfg.answer_ref + '/claim',
                                               { form: { nothing: '1' }, maxRedirects: 0 });
    step('no_csrf_status', noToken.status());
    const wrongToken = await context.request.post(cfg.base + '/case/' + cfg.answer_ref + '/claim',
                                                  { form: { csrf: '0'.repeat(64) }, maxRedirects: 0 });
    step('wrong_csrf_status', wrongToken.status());

    // Open the case from the queue, claim it, answer it.
    await page.goto(cfg.base + '/queue');
    await Promise.all([page.waitForURL('**/case/' + cfg.answer_ref),
                       page.click('td.ref a:text-is("' + cfg.answer_ref + '")')]);
    step('highlighted_codes', await page.locator('pre.mailtext mark.code').allInnerTexts());
    await Promise.all([page.waitForURL('**?done=claim'), page.click('form[action$="/claim"] button')]);
    step('claim_flash', await page.locator('.flash.ok').innerText());
    step('status_after_claim', await page.locator('.badges .badge').first().innerText());
    await page.fill('#answer-text', cfg.answer_text);
    await page.screenshot({ path: path.join(cfg.screenshots, 'web-case.png'), fullPage: true });
    await Promise.all([page.waitForURL('**?done=answer'), page.click('button[value=answer]')]);
    step('answer_flash', await page.locator('.flash.ok').innerText());
    step('status_after_answer', await page.locator('.badges .badge').first().innerText());

    // Search.
    await page.fill('header input[name=q]', 'facet');
    await Promise.all([page.waitForURL('**/search?q=facet'), page.press('header input[name=q]', 'Enter')]);
    step('search_finds_case', await page.locator('td.ref', { hasText: cfg.answer_ref }).count() > 0);

    // Sign out: the session is gone.
    await Promise.all([page.waitForURL('**/login'), page.click('button:text-is("Sign out")')]);
    const after = await context.request.get(cfg.base + '/queue', { maxRedirects: 0 });
    step('after_logout_status', after.status());

    step('dialogs', dialogs);
    step('console_errors', consoleErrors);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
