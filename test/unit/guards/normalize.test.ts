import assert from 'node:assert/strict';
import {canonicalPath, decodeText, fold, pathShape, splitPairs, splitRequestTarget, tokens} from '../../../src/guards/normalize';

describe('guards: normaliser (unit)', () => {
  const last = (s: string, strict = true) => {
    const r = decodeText(s, {strict});
    return {form: r.forms[r.forms.length - 1], malformed: r.malformed};
  };

  const decodes: Array<[string, string, string | null]> = [
    ['%2e%2e%2f', '../', null],
    ['%252e%252e%252f', '../', null],
    ['%25252e', '.', null],
    ['%c0%ae%c0%af', './', 'overlong-utf8'],
    ['%e0%80%ae', '.', 'overlong-utf8'],
    ['%f0%80%80%ae', '.', 'overlong-utf8'],
    ['%uff0e%u2215', './', 'u-escape'],
    ['%EF%BC%8E%EF%BC%8F', './', null],
    ['\uff0e\uff0f\u2215\ufe52\u2025', './/...', null],
    ['%5c%255c\\', '///', null],
    ['PrOc', 'proc', null],
    ['%C3%A9', 'é', null],
    ['a%zz', 'a%zz', 'bad-escape'],
    ['%ff', '%FF'.toLowerCase(), 'invalid-utf8'],
    ['%ed%a0%80', '%ed%a0%80', 'invalid-utf8'],
    ['a%00b', 'ab', 'nul'],
    ['a%0ab', 'a\nb', 'control-char'],
    ['%252525252525252e', '%252e', 'too-deep'],
  ];
  for (const [input, form, malformed] of decodes) {
    it(`decodes ${JSON.stringify(input)}`, () => assert.deepEqual(last(input), {form, malformed}));
  }

  it('is lenient with a bare % and line breaks in values, strict in the request target', () => {
    assert.deepEqual(last('50% off\nnow', false), {form: '50% off\nnow', malformed: null});
    assert.equal(last('50% off', true).malformed, 'bad-escape');
  });

  it('keeps every intermediate form for matching', () => {
    assert.deepEqual(decodeText('%252e', {strict: true}).forms, ['%252e', '%2e', '.']);
  });

  it('treats + as a space only for form encoding', () => {
    assert.equal(last('a+b').form, 'a+b');
    assert.equal(decodeText('a+b%2B', {strict: true, plusAsSpace: true}).forms.at(-1), 'a b+');
  });

  it('folds NFKC, confusables and case', () => {
    assert.equal(fold('ＰＲＯＣ／ｓｅｌｆ'), 'proc/self');
    assert.equal(fold('a\u2044b\u29f8c\u3002d'), 'a/b/c.d');
    assert.equal(fold('C:\\Windows'), 'c:/windows');
  });

  it('shapes paths: params, empty and dot segments, dot-dot', () => {
    assert.deepEqual(pathShape('/a//b/./c;x=1/../d'), {
      absolute: true,
      pathLike: true,
      raw: ['a', 'b', 'c', '..', 'd'],
      resolved: ['a', 'b', 'd'],
      dotDot: true,
      escapes: false,
      dotsOnly: false,
    });
    assert.equal(pathShape('../x').escapes, true);
    assert.equal(pathShape('/a/../../x').escapes, true);
    assert.equal(pathShape('/a/.../x').dotsOnly, true);
    assert.equal(pathShape('/files/report..final.pdf').dotDot, false);
    assert.equal(pathShape('word').pathLike, false);
  });

  it('canonicalises paths', () => {
    assert.equal(canonicalPath('/static/%2e%2e/%2E%2E//etc/./shadow'), '/etc/shadow');
    assert.equal(canonicalPath('..%2f..%2fetc'), '../../etc');
    assert.equal(canonicalPath('/a;jsessionid=1/b'), '/a/b');
  });

  it('splits request targets without decoding', () => {
    assert.deepEqual(splitRequestTarget('/a%2fb?x=%2e#f'), {form: 'origin', path: '/a%2fb', query: 'x=%2e'});
    assert.deepEqual(splitRequestTarget('HTTP://h:1/p?q'), {form: 'absolute', scheme: 'http', authority: 'h:1', path: '/p', query: 'q'});
    assert.deepEqual(splitRequestTarget('http://h'), {form: 'absolute', scheme: 'http', authority: 'h', path: '/', query: null});
    assert.deepEqual(splitRequestTarget('*'), {form: 'asterisk', path: '*', query: null});
    assert.equal(splitRequestTarget('h:443'), null);
    assert.equal(splitRequestTarget('relative/path'), null);
  });

  it('splits query pairs and tokens', () => {
    assert.deepEqual(splitPairs('a=1&&b&c=x=y'), [
      ['a', '1'],
      ['b', ''],
      ['c', 'x=y'],
    ]);
    assert.deepEqual(tokens('lang=../x; y'), ['lang=../x;', 'y', 'lang', '../x']);
    assert.deepEqual(tokens('a=b'), ['a=b', 'a', 'b']);
  });
});
