/** The build's default data URL (vite.config.ts): the bundled copy, or the public one. */
declare const __ACTLAB_DATA__: string;
