/** esbuild loads stylesheets as text; main.tsx puts them in a <style> element. */
declare module '*.css' {
  const text: string;
  export default text;
}
